using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Selections : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "selections",
                columns: table => new
                {
                    SelectionId = table.Column<Guid>(type: "uuid", nullable: false),
                    State = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    RequestJson = table.Column<string>(type: "text", nullable: false),
                    ProviderJobId = table.Column<Guid>(type: "uuid", nullable: true),
                    Selected = table.Column<int>(type: "integer", nullable: false),
                    Refused = table.Column<string>(type: "character varying(24)", maxLength: 24, nullable: true),
                    Detail = table.Column<string>(type: "text", nullable: true),
                    AcceptedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    CompletedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    Version = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_selections", x => x.SelectionId);
                });

            migrationBuilder.CreateIndex(
                name: "IX_selections_State",
                table: "selections",
                column: "State");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "selections");
        }
    }
}
