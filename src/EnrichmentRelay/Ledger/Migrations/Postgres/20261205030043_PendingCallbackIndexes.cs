using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class PendingCallbackIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_provider_callbacks_ProcessedAt",
                table: "provider_callbacks");

            migrationBuilder.CreateIndex(
                name: "IX_provider_callbacks_Pending",
                table: "provider_callbacks",
                column: "Id",
                filter: "\"ProcessedAt\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_provider_callbacks_PendingOfJob",
                table: "provider_callbacks",
                columns: new[] { "ProviderJobId", "Id" },
                filter: "\"ProcessedAt\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_provider_callbacks_ProcessedAt",
                table: "provider_callbacks",
                column: "ProcessedAt",
                filter: "\"ProcessedAt\" IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_provider_callbacks_Pending",
                table: "provider_callbacks");

            migrationBuilder.DropIndex(
                name: "IX_provider_callbacks_PendingOfJob",
                table: "provider_callbacks");

            migrationBuilder.DropIndex(
                name: "IX_provider_callbacks_ProcessedAt",
                table: "provider_callbacks");

            migrationBuilder.CreateIndex(
                name: "IX_provider_callbacks_ProcessedAt",
                table: "provider_callbacks",
                column: "ProcessedAt");
        }
    }
}
