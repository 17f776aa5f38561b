using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class DeadLettersTracesAndCredits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<decimal>(
                name: "CreditsCharged",
                table: "provider_jobs",
                type: "numeric(18,4)",
                precision: 18,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TraceParent",
                table: "provider_callbacks",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TraceParent",
                table: "outbox",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TraceParent",
                table: "enrichment_requests",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "dead_letters",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Queue = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    MessageId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    ContentType = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    Body = table.Column<byte[]>(type: "bytea", nullable: false),
                    HeadersJson = table.Column<string>(type: "text", nullable: false),
                    ExceptionType = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    Reason = table.Column<string>(type: "text", nullable: false),
                    Redeliveries = table.Column<int>(type: "integer", nullable: false),
                    FaultedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ReplayedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    ReplayCount = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_dead_letters", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_CompletedAt",
                table: "enrichment_requests",
                column: "CompletedAt");

            migrationBuilder.CreateIndex(
                name: "IX_dead_letters_FaultedAt",
                table: "dead_letters",
                column: "FaultedAt");

            migrationBuilder.CreateIndex(
                name: "IX_dead_letters_ReplayedAt",
                table: "dead_letters",
                column: "ReplayedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "dead_letters");

            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_CompletedAt",
                table: "enrichment_requests");

            migrationBuilder.DropColumn(
                name: "CreditsCharged",
                table: "provider_jobs");

            migrationBuilder.DropColumn(
                name: "TraceParent",
                table: "provider_callbacks");

            migrationBuilder.DropColumn(
                name: "TraceParent",
                table: "outbox");

            migrationBuilder.DropColumn(
                name: "TraceParent",
                table: "enrichment_requests");
        }
    }
}
