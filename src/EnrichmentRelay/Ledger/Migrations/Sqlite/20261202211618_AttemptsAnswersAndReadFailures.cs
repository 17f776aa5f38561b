using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AttemptsAnswersAndReadFailures : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "ClaimedAt",
                table: "selections",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "ReadFailures",
                table: "provider_jobs",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.CreateTable(
                name: "provider_answers",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Endpoint = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Status = table.Column<int>(type: "INTEGER", nullable: true),
                    Body = table.Column<string>(type: "TEXT", nullable: true),
                    Error = table.Column<string>(type: "TEXT", nullable: true),
                    ReceivedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_provider_answers", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "request_attempts",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    RequestId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Number = table.Column<int>(type: "INTEGER", nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Lane = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    JobId = table.Column<Guid>(type: "TEXT", nullable: false),
                    ProviderJobId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    StartedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    CompletedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    Outcome = table.Column<string>(type: "TEXT", maxLength: 24, nullable: true),
                    CreditsCharged = table.Column<double>(type: "REAL", precision: 18, scale: 4, nullable: true),
                    Detail = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_request_attempts", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "provider_answer_links",
                columns: table => new
                {
                    AnswerId = table.Column<long>(type: "INTEGER", nullable: false),
                    JobId = table.Column<Guid>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_provider_answer_links", x => new { x.JobId, x.AnswerId });
                    table.ForeignKey(
                        name: "FK_provider_answer_links_provider_answers_AnswerId",
                        column: x => x.AnswerId,
                        principalTable: "provider_answers",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_provider_answer_links_AnswerId",
                table: "provider_answer_links",
                column: "AnswerId");

            migrationBuilder.CreateIndex(
                name: "IX_provider_answers_ReceivedAt",
                table: "provider_answers",
                column: "ReceivedAt");

            migrationBuilder.CreateIndex(
                name: "IX_request_attempts_JobId",
                table: "request_attempts",
                column: "JobId");

            migrationBuilder.CreateIndex(
                name: "IX_request_attempts_RequestId_Number",
                table: "request_attempts",
                columns: new[] { "RequestId", "Number" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "provider_answer_links");

            migrationBuilder.DropTable(
                name: "request_attempts");

            migrationBuilder.DropTable(
                name: "provider_answers");

            migrationBuilder.DropColumn(
                name: "ClaimedAt",
                table: "selections");

            migrationBuilder.DropColumn(
                name: "ReadFailures",
                table: "provider_jobs");
        }
    }
}
