using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
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
                    SelectionId = table.Column<Guid>(type: "TEXT", nullable: false),
                    State = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    RequestJson = table.Column<string>(type: "TEXT", nullable: false),
                    ProviderJobId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Selected = table.Column<int>(type: "INTEGER", nullable: false),
                    Refused = table.Column<string>(type: "TEXT", maxLength: 24, nullable: true),
                    Detail = table.Column<string>(type: "TEXT", nullable: true),
                    AcceptedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    CompletedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    Version = table.Column<int>(type: "INTEGER", nullable: false)
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
