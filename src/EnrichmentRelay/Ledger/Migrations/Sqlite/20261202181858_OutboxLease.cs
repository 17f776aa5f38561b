using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
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
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "LeasedUntil",
                table: "outbox",
                type: "INTEGER",
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
