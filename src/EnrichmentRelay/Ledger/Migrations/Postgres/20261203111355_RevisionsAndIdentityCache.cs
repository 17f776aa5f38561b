using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class RevisionsAndIdentityCache : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "FromCache",
                table: "request_attempts",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<Guid>(
                name: "LeaderRequestId",
                table: "enrichment_requests",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Revision",
                table: "enrichment_requests",
                type: "integer",
                nullable: false,
                defaultValue: 1);

            migrationBuilder.CreateTable(
                name: "identity_cache",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Key = table.Column<string>(type: "character varying(96)", maxLength: 96, nullable: false),
                    Field = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Found = table.Column<bool>(type: "boolean", nullable: false),
                    ValuesJson = table.Column<string>(type: "text", nullable: false),
                    Provider = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    RequestId = table.Column<Guid>(type: "uuid", nullable: false),
                    KeysJson = table.Column<string>(type: "text", nullable: false),
                    FoundAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_identity_cache", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "in_flight",
                columns: table => new
                {
                    Key = table.Column<string>(type: "character varying(96)", maxLength: 96, nullable: false),
                    LeaderRequestId = table.Column<Guid>(type: "uuid", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_in_flight", x => x.Key);
                });

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_LeaderRequestId",
                table: "enrichment_requests",
                column: "LeaderRequestId");

            migrationBuilder.CreateIndex(
                name: "IX_identity_cache_ExpiresAt",
                table: "identity_cache",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_identity_cache_Key_ExpiresAt",
                table: "identity_cache",
                columns: new[] { "Key", "ExpiresAt" });

            migrationBuilder.CreateIndex(
                name: "IX_in_flight_LeaderRequestId",
                table: "in_flight",
                column: "LeaderRequestId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "identity_cache");

            migrationBuilder.DropTable(
                name: "in_flight");

            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_LeaderRequestId",
                table: "enrichment_requests");

            migrationBuilder.DropColumn(
                name: "FromCache",
                table: "request_attempts");

            migrationBuilder.DropColumn(
                name: "LeaderRequestId",
                table: "enrichment_requests");

            migrationBuilder.DropColumn(
                name: "Revision",
                table: "enrichment_requests");
        }
    }
}
