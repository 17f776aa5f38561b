using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class DeadLettersTracesAndCredits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "CreditsCharged",
                table: "provider_jobs",
                type: "REAL",
                precision: 18,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TraceParent",
                table: "provider_callbacks",
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TraceParent",
                table: "outbox",
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TraceParent",
                table: "enrichment_requests",
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "dead_letters",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Queue = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    MessageId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    ContentType = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    Body = table.Column<byte[]>(type: "BLOB", nullable: false),
                    HeadersJson = table.Column<string>(type: "TEXT", nullable: false),
                    ExceptionType = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    Reason = table.Column<string>(type: "TEXT", nullable: false),
                    Redeliveries = table.Column<int>(type: "INTEGER", nullable: false),
                    FaultedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    ReplayedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    ReplayCount = table.Column<int>(type: "INTEGER", nullable: false)
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
