using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "inbox",
                columns: table => new
                {
                    Key = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    ProcessedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_inbox", x => x.Key);
                });

            migrationBuilder.CreateTable(
                name: "outbox",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    MessageId = table.Column<Guid>(type: "TEXT", nullable: false),
                    MessageType = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Body = table.Column<string>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    SentAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_outbox", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "provider_callbacks",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ProviderJobId = table.Column<Guid>(type: "TEXT", nullable: false),
                    ReceivedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Body = table.Column<string>(type: "TEXT", nullable: false),
                    IsMalformed = table.Column<bool>(type: "INTEGER", nullable: false),
                    ProcessedAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_provider_callbacks", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "provider_jobs",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Lane = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    State = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    SubmitAnswer = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    NextPollAt = table.Column<long>(type: "INTEGER", nullable: true),
                    ExternalId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    CallbackTokenHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    RequestCount = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    SubmittedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    CompletedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    LastError = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_provider_jobs", x => x.Id);
                });

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

            migrationBuilder.CreateTable(
                name: "enrichment_requests",
                columns: table => new
                {
                    RequestId = table.Column<Guid>(type: "TEXT", nullable: false),
                    State = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Provider = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    Lane = table.Column<string>(type: "TEXT", maxLength: 32, nullable: true),
                    RequestJson = table.Column<string>(type: "TEXT", nullable: false),
                    AcceptedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    SubmittedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    CompletedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    ProviderJobId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Outcome = table.Column<string>(type: "TEXT", maxLength: 24, nullable: true),
                    EmailsJson = table.Column<string>(type: "TEXT", nullable: true),
                    PhonesJson = table.Column<string>(type: "TEXT", nullable: true),
                    Detail = table.Column<string>(type: "TEXT", nullable: true),
                    CreditsCharged = table.Column<double>(type: "REAL", precision: 18, scale: 4, nullable: true),
                    ProviderState = table.Column<string>(type: "TEXT", nullable: true),
                    Version = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_enrichment_requests", x => x.RequestId);
                    table.ForeignKey(
                        name: "FK_enrichment_requests_provider_jobs_ProviderJobId",
                        column: x => x.ProviderJobId,
                        principalTable: "provider_jobs",
                        principalColumn: "Id");
                });

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_ProviderJobId",
                table: "enrichment_requests",
                column: "ProviderJobId");

            migrationBuilder.CreateIndex(
                name: "IX_enrichment_requests_State_Lane_AcceptedAt",
                table: "enrichment_requests",
                columns: new[] { "State", "Lane", "AcceptedAt" });

            migrationBuilder.CreateIndex(
                name: "IX_inbox_ProcessedAt",
                table: "inbox",
                column: "ProcessedAt");

            migrationBuilder.CreateIndex(
                name: "IX_outbox_SentAt",
                table: "outbox",
                column: "SentAt");

            migrationBuilder.CreateIndex(
                name: "IX_provider_callbacks_ProcessedAt",
                table: "provider_callbacks",
                column: "ProcessedAt");

            migrationBuilder.CreateIndex(
                name: "IX_provider_callbacks_ProviderJobId",
                table: "provider_callbacks",
                column: "ProviderJobId");

            migrationBuilder.CreateIndex(
                name: "IX_provider_jobs_CallbackTokenHash",
                table: "provider_jobs",
                column: "CallbackTokenHash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_provider_jobs_Lane_State_NextPollAt",
                table: "provider_jobs",
                columns: new[] { "Lane", "State", "NextPollAt" });

            migrationBuilder.CreateIndex(
                name: "IX_provider_jobs_Provider_ExternalId",
                table: "provider_jobs",
                columns: new[] { "Provider", "ExternalId" });

            migrationBuilder.CreateIndex(
                name: "IX_provider_jobs_State",
                table: "provider_jobs",
                column: "State");

            migrationBuilder.CreateIndex(
                name: "IX_selections_State",
                table: "selections",
                column: "State");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "enrichment_requests");

            migrationBuilder.DropTable(
                name: "inbox");

            migrationBuilder.DropTable(
                name: "outbox");

            migrationBuilder.DropTable(
                name: "provider_callbacks");

            migrationBuilder.DropTable(
                name: "selections");

            migrationBuilder.DropTable(
                name: "provider_jobs");
        }
    }
}
