using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class UnsentOutboxAndFollowerIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_LeaderRequestId",
                table: "enrichment_requests");

            migrationBuilder.CreateIndex(
                name: "IX_outbox_Unsent",
                table: "outbox",
                column: "Id",
                filter: "\"SentAt\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_LeaderRequestId",
                table: "enrichment_requests",
                column: "LeaderRequestId",
                filter: "\"LeaderRequestId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_outbox_Unsent",
                table: "outbox");

            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_LeaderRequestId",
                table: "enrichment_requests");

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_LeaderRequestId",
                table: "enrichment_requests",
                column: "LeaderRequestId");
        }
    }
}
