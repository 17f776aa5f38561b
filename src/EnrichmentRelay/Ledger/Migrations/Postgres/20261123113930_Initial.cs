using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
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
                    Key = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    ProcessedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_inbox", x => x.Key);
                });

            migrationBuilder.CreateTable(
                name: "outbox",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    MessageId = table.Column<Guid>(type: "uuid", nullable: false),
                    MessageType = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Body = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    SentAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_outbox", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "provider_callbacks",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    ProviderJobId = table.Column<Guid>(type: "uuid", nullable: false),
                    ReceivedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Body = table.Column<string>(type: "text", nullable: false),
                    IsMalformed = table.Column<bool>(type: "boolean", nullable: false),
                    ProcessedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_provider_callbacks", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "provider_jobs",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    Provider = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Lane = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    State = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    SubmitAnswer = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    NextPollAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    ExternalId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    CallbackTokenHash = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    RequestCount = table.Column<int>(type: "integer", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    SubmittedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CompletedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    LastError = table.Column<string>(type: "text", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_provider_jobs", x => x.Id);
                });

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

            migrationBuilder.CreateTable(
                name: "enrichment_requests",
                columns: table => new
                {
                    RequestId = table.Column<Guid>(type: "uuid", nullable: false),
                    State = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Provider = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: true),
                    Lane = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    RequestJson = table.Column<string>(type: "text", nullable: false),
                    AcceptedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    SubmittedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CompletedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    ProviderJobId = table.Column<Guid>(type: "uuid", nullable: true),
                    Outcome = table.Column<string>(type: "character varying(24)", maxLength: 24, nullable: true),
                    EmailsJson = table.Column<string>(type: "text", nullable: true),
                    PhonesJson = table.Column<string>(type: "text", nullable: true),
                    Detail = table.Column<string>(type: "text", nullable: true),
                    CreditsCharged = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: true),
                    ProviderState = table.Column<string>(type: "text", nullable: true),
                    Version = table.Column<int>(type: "integer", nullable: false)
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
