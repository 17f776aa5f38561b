using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <summary>
    /// The indexes on a request's job and completion time, and on an event's send time, hold no entry for a null: most rows
    /// spend a while with these columns null, and each entry for one was written with the row and again with its updates.
    /// </summary>
    public partial class PartialIndexesForNulls : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_outbox_SentAt",
                table: "outbox");

            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_CompletedAt",
                table: "enrichment_requests");

            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_ProviderJobId",
                table: "enrichment_requests");

            migrationBuilder.CreateIndex(
                name: "IX_outbox_SentAt",
                table: "outbox",
                column: "SentAt",
                filter: "\"SentAt\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_CompletedAt",
                table: "enrichment_requests",
                column: "CompletedAt",
                filter: "\"CompletedAt\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_ProviderJobId",
                table: "enrichment_requests",
                column: "ProviderJobId",
                filter: "\"ProviderJobId\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_outbox_SentAt",
                table: "outbox");

            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_CompletedAt",
                table: "enrichment_requests");

            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_ProviderJobId",
                table: "enrichment_requests");

            migrationBuilder.CreateIndex(
                name: "IX_outbox_SentAt",
                table: "outbox",
                column: "SentAt");

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_CompletedAt",
                table: "enrichment_requests",
                column: "CompletedAt");

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_ProviderJobId",
                table: "enrichment_requests",
                column: "ProviderJobId");
        }
    }
}
