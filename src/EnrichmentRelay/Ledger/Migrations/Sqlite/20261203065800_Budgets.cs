using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
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
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<double>(
                name: "CreditsReserved",
                table: "provider_jobs",
                type: "REAL",
                precision: 18,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "ReservationOpen",
                table: "provider_jobs",
                type: "INTEGER",
                nullable: false,
                defaultValue: false);

            migrationBuilder.CreateTable(
                name: "budget_days",
                columns: table => new
                {
                    Provider = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Day = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    Reserved = table.Column<double>(type: "REAL", precision: 18, scale: 4, nullable: false),
                    Charged = table.Column<double>(type: "REAL", precision: 18, scale: 4, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_budget_days", x => new { x.Provider, x.Day });
                });

            migrationBuilder.CreateTable(
                name: "budget_limits",
                columns: table => new
                {
                    Provider = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    DailyCap = table.Column<double>(type: "REAL", precision: 18, scale: 4, nullable: true),
                    PerRequestCeiling = table.Column<double>(type: "REAL", precision: 18, scale: 4, nullable: true),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
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
