using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class WaterfallFieldsAndContacts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "EmailsJson",
                table: "request_attempts",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "FieldsJson",
                table: "request_attempts",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "PhonesJson",
                table: "request_attempts",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "FieldsJson",
                table: "enrichment_requests",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SkippedJson",
                table: "enrichment_requests",
                type: "TEXT",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "EmailsJson",
                table: "request_attempts");

            migrationBuilder.DropColumn(
                name: "FieldsJson",
                table: "request_attempts");

            migrationBuilder.DropColumn(
                name: "PhonesJson",
                table: "request_attempts");

            migrationBuilder.DropColumn(
                name: "FieldsJson",
                table: "enrichment_requests");

            migrationBuilder.DropColumn(
                name: "SkippedJson",
                table: "enrichment_requests");
        }
    }
}
