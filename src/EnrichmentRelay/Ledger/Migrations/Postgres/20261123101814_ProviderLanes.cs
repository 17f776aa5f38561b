using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ProviderLanes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_State_Provider_AcceptedAt",
                table: "enrichment_requests");

            migrationBuilder.AddColumn<string>(
                name: "Lane",
                table: "provider_jobs",
                type: "character varying(32)",
                maxLength: 32,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "NextPollAt",
                table: "provider_jobs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SubmitAnswer",
                table: "provider_jobs",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Lane",
                table: "enrichment_requests",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_provider_jobs_Lane_State_NextPollAt",
                table: "provider_jobs",
                columns: new[] { "Lane", "State", "NextPollAt" });

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_State_Lane_AcceptedAt",
                table: "enrichment_requests",
                columns: new[] { "State", "Lane", "AcceptedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_provider_jobs_Lane_State_NextPollAt",
                table: "provider_jobs");

            migrationBuilder.DropIndex(
                name: "IX_enrichment_requests_State_Lane_AcceptedAt",
                table: "enrichment_requests");

            migrationBuilder.DropColumn(
                name: "Lane",
                table: "provider_jobs");

            migrationBuilder.DropColumn(
                name: "NextPollAt",
                table: "provider_jobs");

            migrationBuilder.DropColumn(
                name: "SubmitAnswer",
                table: "provider_jobs");

            migrationBuilder.DropColumn(
                name: "Lane",
                table: "enrichment_requests");

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_State_Provider_AcceptedAt",
                table: "enrichment_requests",
                columns: new[] { "State", "Provider", "AcceptedAt" });
        }
    }
}
