using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
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
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<Guid>(
                name: "LeaderRequestId",
                table: "enrichment_requests",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Revision",
                table: "enrichment_requests",
                type: "INTEGER",
                nullable: false,
                defaultValue: 1);

            migrationBuilder.CreateTable(
                name: "identity_cache",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Key = table.Column<string>(type: "TEXT", maxLength: 96, nullable: false),
                    Field = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Found = table.Column<bool>(type: "INTEGER", nullable: false),
                    ValuesJson = table.Column<string>(type: "TEXT", nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    RequestId = table.Column<Guid>(type: "TEXT", nullable: false),
                    KeysJson = table.Column<string>(type: "TEXT", nullable: false),
                    FoundAt = table.Column<long>(type: "INTEGER", nullable: false),
                    ExpiresAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_identity_cache", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "in_flight",
                columns: table => new
                {
                    Key = table.Column<string>(type: "TEXT", maxLength: 96, nullable: false),
                    LeaderRequestId = table.Column<Guid>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
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
