using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EnrichmentRelay.Ledger.Migrations.Postgres
{
    /// <summary>
    /// The large text columns (callback and answer bodies, events, requests as received) compressed with lz4 instead of
    /// pglz, which cost the server about a third of the per-job webhook's throughput (docs/performance.md). Rows already
    /// stored keep theirs; both read back alike. A server without lz4 (built without it, or older than PostgreSQL 14)
    /// keeps pglz, with a notice: the relay works the same, only slower to store large bodies.
    /// </summary>
    public partial class CompressLargeColumnsWithLz4 : Migration
    {
        static readonly (string Table, string Column)[] Columns =
        [
            ("provider_callbacks", "Body"),
            ("provider_answers", "Body"),
            ("outbox", "Body"),
            ("enrichment_requests", "RequestJson"),
            ("provider_jobs", "SubmitAnswer"),
            ("selections", "RequestJson"),
            ("dead_letters", "Body"),
        ];

        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(SetCompression("lz4"));

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(SetCompression("default"));

        // EXECUTE, so a server that cannot parse or honour SET COMPRESSION raises at run time, where it is caught.
        static string SetCompression(string method) => $$"""
            DO $$
            BEGIN
            {{string.Concat(Columns.Select(c => $"    EXECUTE 'ALTER TABLE {c.Table} ALTER COLUMN \"{c.Column}\" SET COMPRESSION {method}';\n"))}}EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
                RAISE NOTICE 'Column compression {{method}} is not available on this server (%): the ledger''s large columns keep their compression', SQLERRM;
            END $$;
            """;
    }
}
