using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class OutboxLease : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "LeasedBy",
                table: "outbox",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "LeasedUntil",
                table: "outbox",
                type: "timestamp with time zone",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "LeasedBy",
                table: "outbox");

            migrationBuilder.DropColumn(
                name: "LeasedUntil",
                table: "outbox");
        }
    }
}
