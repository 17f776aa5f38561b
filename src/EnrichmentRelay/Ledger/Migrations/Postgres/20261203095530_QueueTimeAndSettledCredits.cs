using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class QueueTimeAndSettledCredits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<decimal>(
                name: "CreditsSettled",
                table: "provider_jobs",
                type: "numeric(18,4)",
                precision: 18,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "QueuedAt",
                table: "enrichment_requests",
                type: "timestamp with time zone",
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
