using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class QueueTimeAndSettledCredits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "CreditsSettled",
                table: "provider_jobs",
                type: "REAL",
                precision: 18,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "QueuedAt",
                table: "enrichment_requests",
                type: "INTEGER",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "CreditsSettled",
                table: "provider_jobs");

            migrationBuilder.DropColumn(
                name: "QueuedAt",
                table: "enrichment_requests");
        }
    }
}
