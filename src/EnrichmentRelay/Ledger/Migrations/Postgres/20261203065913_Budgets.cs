using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Budgets : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateOnly>(
                name: "BudgetDay",
                table: "provider_jobs",
                type: "date",
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "CreditsReserved",
                table: "provider_jobs",
                type: "numeric(18,4)",
                precision: 18,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "ReservationOpen",
                table: "provider_jobs",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "budget_days",
                columns: table => new
                {
                    Provider = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Day = table.Column<DateOnly>(type: "date", nullable: false),
                    Reserved = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: false),
                    Charged = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_days", x => new { x.Provider, x.Day });
                });

            migrationBuilder.CreateTable(
                name: "budget_limits",
                columns: table => new
                {
                    Provider = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    DailyCap = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: true),
                    PerRequestCeiling = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: true),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_limits", x => x.Provider);
                });

            migrationBuilder.CreateIndex(
                name: "IX_provider_jobs_ReservationOpen_State",
                table: "provider_jobs",
                columns: new[] { "ReservationOpen", "State" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "budget_days");

            migrationBuilder.DropTable(
                name: "budget_limits");

            migrationBuilder.DropIndex(
                name: "IX_provider_jobs_ReservationOpen_State",
                table: "provider_jobs");

            migrationBuilder.DropColumn(
                name: "BudgetDay",
                table: "provider_jobs");

            migrationBuilder.DropColumn(
                name: "CreditsReserved",
                table: "provider_jobs");

            migrationBuilder.DropColumn(
                name: "ReservationOpen",
                table: "provider_jobs");
        }
    }
}
