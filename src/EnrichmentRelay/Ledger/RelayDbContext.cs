using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.ChangeTracking.Internal;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;

namespace EnrichmentRelay.Ledger;

/// <summary>
/// The ledger. Engine-specific subclasses (<see cref="SqliteRelayDbContext"/>,
/// <see cref="PostgresRelayDbContext"/>) exist only so each engine keeps its own migrations.
/// </summary>
public abstract class RelayDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<EnrichmentRequestRecord> Requests => Set<EnrichmentRequestRecord>();
    public DbSet<ProviderJobRecord> ProviderJobs => Set<ProviderJobRecord>();
    public DbSet<ProviderCallbackRecord> ProviderCallbacks => Set<ProviderCallbackRecord>();
    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();
    public DbSet<InboxEntry> Inbox => Set<InboxEntry>();
    public DbSet<SelectionRecord> Selections => Set<SelectionRecord>();
    public DbSet<DeadLetterRecord> DeadLetters => Set<DeadLetterRecord>();
    public DbSet<RequestAttemptRecord> Attempts => Set<RequestAttemptRecord>();
    public DbSet<ProviderAnswerRecord> ProviderAnswers => Set<ProviderAnswerRecord>();
    public DbSet<ProviderAnswerLink> ProviderAnswerLinks => Set<ProviderAnswerLink>();
    public DbSet<BudgetDayRecord> BudgetDays => Set<BudgetDayRecord>();
    public DbSet<BudgetLimitRecord> BudgetLimits => Set<BudgetLimitRecord>();
    public DbSet<IdentityCacheRecord> IdentityCache => Set<IdentityCacheRecord>();
    public DbSet<InFlightRecord> InFlight => Set<InFlightRecord>();

    /// <summary>A version-00 traceparent is 55 characters; room for a later version's.</summary>
    const int TraceParentLength = 128;

    /// <summary>A kind (at most 16 characters), a colon and a SHA-256 in hex.</summary>
    public const int IdentityKeyLength = 96;

    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        using var _ = DetectOnceThenPause();
        RaiseJobVersions();
        return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        using var _ = DetectOnceThenPause();
        RaiseJobVersions();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    /// <summary>
    /// Detects changes once (unless the caller turned detection off) for <see cref="RaiseJobVersions"/> and the save
    /// both (listing the entries would detect them again, and so would the save: each pass goes over every tracked row,
    /// a job's thousand requests and their attempts); detection stays off for the save, until the result is disposed.
    /// </summary>
    DetectionPaused DetectOnceThenPause()
    {
        if (ChangeTracker.AutoDetectChangesEnabled)
            ChangeTracker.DetectChanges();
        return PauseDetection();
    }

    /// <summary>Automatic change detection off until the result is disposed, then as it was.</summary>
    DetectionPaused PauseDetection()
    {
        var paused = new DetectionPaused(ChangeTracker, ChangeTracker.AutoDetectChangesEnabled);
        ChangeTracker.AutoDetectChangesEnabled = false;
        return paused;
    }

    readonly struct DetectionPaused(ChangeTracker tracker, bool was) : IDisposable
    {
        public void Dispose() => tracker.AutoDetectChangesEnabled = was;
    }

    /// <summary>
    /// Whether rows of this type have their changes found by comparing them with a snapshot (the default), so need them
    /// detected; a <see cref="NotifyingRecord"/> tells of its own (and detecting one would still visit its job).
    /// </summary>
    bool KeepsSnapshots(Type type) =>
        Model.FindEntityType(type)?.GetChangeTrackingStrategy() is null or ChangeTrackingStrategy.Snapshot;

    /// <summary>
    /// The row as if loaded with its current values: unchanged, so a later detection finds no change and a later save
    /// checks its concurrency tokens as written. What SaveChanges does to each row it saved; EF Core offers it for all
    /// tracked rows at once only (<c>AcceptAllChanges</c>); setting the state to Unchanged reverts the values instead.
    /// </summary>
#pragma warning disable EF1001 // internal API: the one way to accept one row's changes; covered by BulkUpdateTests
    static void AcceptChanges(EntityEntry entry) => ((IInfrastructure<InternalEntityEntry>)entry).Instance.AcceptChanges();
#pragma warning restore EF1001

    /// <summary>
    /// SaveChanges, detecting changes only in the tracked rows <paramref name="detectIn"/> selects: for a caller that took
    /// the changes of the others out itself (<see cref="TakeModified{T}"/>), so a pass over a job's thousand requests
    /// and attempts is not made twice.
    /// </summary>
    public async Task<int> SaveChangesDetectingAsync(Func<object, bool> detectIn, CancellationToken ct)
    {
        using var _ = PauseDetection();
        foreach (var entry in ChangeTracker.Entries().ToList())
            if (detectIn(entry.Entity))
                entry.DetectChanges();
        return await SaveChangesAsync(ct);
    }

    /// <summary>
    /// The rows of <typeparamref name="T"/> staged as added, no longer tracked: for the caller to insert in bulk
    /// (<see cref="BulkInsert"/>). Added rows need no change detection to be found, and a pass over a job's thousand
    /// tracked requests is not free, so none runs.
    /// </summary>
    public List<T> TakeAdded<T>() where T : class
    {
        using var _ = PauseDetection();
        var added = ChangeTracker.Entries<T>().Where(e => e.State == EntityState.Added).ToList();
        foreach (var entry in added)
            entry.State = EntityState.Detached;
        return added.Select(e => e.Entity).ToList();
    }

    /// <summary>
    /// The rows of <typeparamref name="T"/> whose changes are staged, taken out of the unit of work's SaveChanges for the
    /// caller to write in bulk (<see cref="BulkUpdate"/>): each keeps its values, is tracked as unchanged from then on,
    /// and remembers which properties changed and its concurrency tokens as loaded. Changes are detected for these rows
    /// only. If the bulk update is not made, the unit of work is spent: its caller starts again from the ledger.
    /// </summary>
    public List<ModifiedRow> TakeModified<T>() where T : class
    {
        using var _ = PauseDetection();
        var taken = new List<ModifiedRow>();
        var snapshots = KeepsSnapshots(typeof(T));
        foreach (var entry in ChangeTracker.Entries<T>().ToList())
        {
            if (snapshots)
                entry.DetectChanges();
            if (entry.State != EntityState.Modified)
                continue;
            var modified = new List<IProperty>();
            var tokens = new List<(IProperty, object?)>();
            foreach (var property in entry.Properties)
            {
                if (property.Metadata.IsConcurrencyToken)
                    tokens.Add((property.Metadata, property.OriginalValue));
                if (!property.IsModified)
                    continue;
                modified.Add(property.Metadata);
            }
            AcceptChanges(entry);
            taken.Add(new ModifiedRow(entry, modified, tokens));
        }
        return taken;
    }

    /// <summary>
    /// Every change to a job raises its Version, checked by the same UPDATE: a writer whose copy of the job is stale
    /// (another instance's sweep, poll or flush changed it meanwhile) fails instead of overwriting it. Set through the
    /// entry, so the save sees it without detecting changes again.
    /// </summary>
    void RaiseJobVersions()
    {
        foreach (var job in ChangeTracker.Entries<ProviderJobRecord>())
        {
            var version = job.Property(j => j.Version);
            if (job.State == EntityState.Modified && !version.IsModified)
                version.CurrentValue = job.Entity.Version + 1;
        }
    }

    protected override void OnModelCreating(ModelBuilder model)
    {
        model.Entity<EnrichmentRequestRecord>(e =>
        {
            e.ToTable("enrichment_requests");
            e.HasKey(r => r.RequestId);
            // A job's thousand requests are tracked at once: each tells of its own changes (NotifyingRecord), after them
            // only, since their values as loaded are kept anyway: reloading a row (a completion lost to another writer)
            // sets them all.
            e.HasChangeTrackingStrategy(ChangeTrackingStrategy.ChangedNotifications);
            e.Property(r => r.State).HasConversion<string>().HasMaxLength(16);
            e.Property(r => r.Provider).HasConversion<string>().HasMaxLength(16);
            e.Property(r => r.Outcome).HasConversion<string>().HasMaxLength(24);
            e.Property(r => r.Version).IsConcurrencyToken();
            // Rows from before corrections existed hold their first publication.
            e.Property(r => r.Revision).HasDefaultValue(1);
            e.Property(r => r.CreditsCharged).HasPrecision(18, 4);
            e.HasOne(r => r.ProviderJob).WithMany().HasForeignKey(r => r.ProviderJobId);
            // The flusher's question: which accepted requests does a provider have, oldest first?
            e.Property(r => r.Lane).HasMaxLength(32);
            e.HasIndex(r => new { r.State, r.Lane, r.AcceptedAt });
            e.Ignore(r => r.InLineSince);
            // A job's requests. Partial, like the completion time's below: a request has no job until it is submitted and
            // no completion time until it ends, and an entry for the null would be written with the row and again with
            // each of its updates (on PostgreSQL, an update that changes an indexed column adds an entry to every index).
            e.HasIndex(r => r.ProviderJobId).HasFilter("\"ProviderJobId\" IS NOT NULL");
            e.Property(r => r.TraceParent).HasMaxLength(TraceParentLength);
            // The dashboard's "completed in the last hour, by outcome", and retention's cut-off.
            e.HasIndex(r => r.CompletedAt).HasFilter("\"CompletedAt\" IS NOT NULL");
            // A completed request's followers. Partial: most requests follow none, and every update of one would
            // otherwise write an entry for its null here too.
            e.HasIndex(r => r.LeaderRequestId).HasFilter("\"LeaderRequestId\" IS NOT NULL");
        });
        model.Entity<ProviderJobRecord>(e =>
        {
            e.ToTable("provider_jobs");
            e.HasKey(j => j.Id);
            e.Property(j => j.Provider).HasConversion<string>().HasMaxLength(16);
            e.Property(j => j.State).HasConversion<string>().HasMaxLength(16);
            e.Property(j => j.ExternalId).HasMaxLength(128);
            e.Property(j => j.Lane).HasMaxLength(32);
            e.Property(j => j.SubmitAnswer).HasMaxLength(64);
            e.HasIndex(j => new { j.Lane, j.State, j.NextPollAt });
            e.Property(j => j.CallbackTokenHash).HasMaxLength(64);
            e.Ignore(j => j.Name);
            e.Ignore(j => j.SentAt);
            e.HasIndex(j => j.CallbackTokenHash).IsUnique();
            e.HasIndex(j => new { j.Provider, j.ExternalId });
            e.HasIndex(j => j.State);
            e.Property(j => j.CreditsCharged).HasPrecision(18, 4);
            e.Property(j => j.CreditsReserved).HasPrecision(18, 4);
            e.Property(j => j.CreditsSettled).HasPrecision(18, 4);
            // The budget's settlement looks for ended jobs whose reservation is still open.
            e.HasIndex(j => new { j.ReservationOpen, j.State });
            e.Property(j => j.Version).IsConcurrencyToken();
        });
        model.Entity<ProviderCallbackRecord>(e =>
        {
            e.ToTable("provider_callbacks");
            e.HasKey(c => c.Id);
            e.HasIndex(c => c.ProcessedAt);
            e.HasIndex(c => c.ProviderJobId);
            e.Property(c => c.TraceParent).HasMaxLength(TraceParentLength);
        });
        model.Entity<OutboxMessage>(e =>
        {
            e.ToTable("outbox");
            e.HasKey(m => m.Id);
            e.Property(m => m.MessageType).HasMaxLength(128);
            // Retention's question: what was sent before the cut-off. Partial: an unsent row needs no entry here, and its
            // lease is written without one.
            e.HasIndex(m => m.SentAt).HasFilter("\"SentAt\" IS NOT NULL");
            // The dispatcher's: the oldest unsent rows, in order. Partial, so a claim walks the unsent rows alone, not
            // the entries a sent row left behind until it is vacuumed (they made the claim a scan of the table).
            e.HasIndex(m => m.Id).HasDatabaseName("IX_outbox_Unsent").HasFilter("\"SentAt\" IS NULL");
            e.Property(m => m.TraceParent).HasMaxLength(TraceParentLength);
            e.Property(m => m.LeasedBy).HasMaxLength(128);
        });
        model.Entity<SelectionRecord>(e =>
        {
            e.ToTable("selections");
            e.HasKey(s => s.SelectionId);
            e.Property(s => s.State).HasConversion<string>().HasMaxLength(16);
            e.Property(s => s.Refused).HasConversion<string>().HasMaxLength(24);
            e.Property(s => s.Version).IsConcurrencyToken();
            e.HasIndex(s => s.State);
        });
        model.Entity<DeadLetterRecord>(e =>
        {
            e.ToTable("dead_letters");
            e.HasKey(d => d.Id);
            e.Property(d => d.Queue).HasMaxLength(256);
            e.Property(d => d.MessageId).HasMaxLength(128);
            e.Property(d => d.ContentType).HasMaxLength(128);
            e.Property(d => d.ExceptionType).HasMaxLength(256);
            // The operator's questions: what failed recently, and what is still waiting for a replay.
            e.HasIndex(d => d.FaultedAt);
            e.HasIndex(d => d.ReplayedAt);
        });
        model.Entity<RequestAttemptRecord>(e =>
        {
            e.ToTable("request_attempts");
            e.HasKey(a => a.Id);
            e.HasChangeTrackingStrategy(ChangeTrackingStrategy.ChangedNotifications);
            e.Property(a => a.Provider).HasConversion<string>().HasMaxLength(16);
            e.Property(a => a.Lane).HasMaxLength(32);
            e.Property(a => a.ProviderJobId).HasMaxLength(128);
            e.Property(a => a.Outcome).HasConversion<string>().HasMaxLength(24);
            e.Property(a => a.CreditsCharged).HasPrecision(18, 4);
            e.Ignore(a => a.IsOpen);
            e.HasIndex(a => new { a.RequestId, a.Number }).IsUnique();
            // A job's results are applied to its attempts: one read per job.
            e.HasIndex(a => a.JobId);
        });
        model.Entity<ProviderAnswerRecord>(e =>
        {
            e.ToTable("provider_answers");
            e.HasKey(a => a.Id);
            e.Property(a => a.Provider).HasConversion<string>().HasMaxLength(16);
            e.Property(a => a.Endpoint).HasMaxLength(128);
            e.HasIndex(a => a.ReceivedAt);
        });
        model.Entity<ProviderAnswerLink>(e =>
        {
            e.ToTable("provider_answer_links");
            e.HasKey(l => new { l.JobId, l.AnswerId });
            e.HasOne(l => l.Answer).WithMany().HasForeignKey(l => l.AnswerId);
        });
        model.Entity<BudgetDayRecord>(e =>
        {
            e.ToTable("budget_days");
            e.HasKey(b => new { b.Provider, b.Day });
            e.Property(b => b.Provider).HasConversion<string>().HasMaxLength(16);
            e.Property(b => b.Reserved).HasPrecision(18, 4);
            e.Property(b => b.Charged).HasPrecision(18, 4);
        });
        model.Entity<BudgetLimitRecord>(e =>
        {
            e.ToTable("budget_limits");
            e.HasKey(b => b.Provider);
            e.Property(b => b.Provider).HasConversion<string>().HasMaxLength(16);
            e.Property(b => b.DailyCap).HasPrecision(18, 4);
            e.Property(b => b.PerRequestCeiling).HasPrecision(18, 4);
        });
        model.Entity<IdentityCacheRecord>(e =>
        {
            e.ToTable("identity_cache");
            e.HasKey(c => c.Id);
            e.Property(c => c.Key).HasMaxLength(IdentityKeyLength);
            e.Property(c => c.Field).HasConversion<string>().HasMaxLength(16);
            e.Property(c => c.Provider).HasConversion<string>().HasMaxLength(16);
            // Intake's question: the unexpired answers for these keys.
            e.HasIndex(c => new { c.Key, c.ExpiresAt });
            // Retention's: what has expired.
            e.HasIndex(c => c.ExpiresAt);
        });
        model.Entity<InFlightRecord>(e =>
        {
            e.ToTable("in_flight");
            e.HasKey(f => f.Key);
            e.Property(f => f.Key).HasMaxLength(IdentityKeyLength);
            // No index on LeaderRequestId: nothing looks rows up by it (the tidy walks them all), and on random keys
            // each insert would write a page of its own (docs/performance.md, "What SQLite writes for a request").
        });
        model.Entity<InboxEntry>(e =>
        {
            e.ToTable("inbox");
            e.HasKey(i => i.Key);
            e.Property(i => i.Key).HasMaxLength(256);
            e.HasIndex(i => i.ProcessedAt);
        });
    }
}

public sealed class SqliteRelayDbContext(DbContextOptions<SqliteRelayDbContext> options) : RelayDbContext(options)
{
    /// <summary>
    /// Eight bytes a stored callback keeps for its ProcessedAt (<see cref="ProcessedCallbacks"/>). SQLite writes a row
    /// whose size changes anew, overflow pages and all, and one whose size stays by changing only the pages that differ:
    /// marking a 32 KB callback processed (ProcessedAt from null to eight bytes) logged its body again, 9 of the 20 pages
    /// a per-job callback cost (docs/performance.md, "What SQLite writes for a request"). Given up with the mark, the
    /// room keeps the row's size. A row without it (stored before it existed) is marked all the same.
    /// </summary>
    public const string ProcessedRoom = "ProcessedRoom";

    protected override void OnModelCreating(ModelBuilder model)
    {
        base.OnModelCreating(model);
        // Shadow, so the relay's code never sees it; filled by the column's default, since an insert leaves it out.
        model.Entity<ProviderCallbackRecord>().Property<byte[]?>(ProcessedRoom).HasDefaultValue(new byte[8]);
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configuration)
    {
        // SQLite has no date type EF can order or compare; store instants as sortable UTC ticks.
        configuration.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToUtcTicksConverter>();
        configuration.Properties<decimal>().HaveConversion<double>();
    }
}

public sealed class PostgresRelayDbContext(DbContextOptions<PostgresRelayDbContext> options) : RelayDbContext(options)
{
    protected override void OnModelCreating(ModelBuilder model)
    {
        base.OnModelCreating(model);
        model.Entity<ProviderCallbackRecord>(e =>
        {
            // The callback processor's questions, the oldest pending callbacks and one job's pending callbacks in order,
            // asked of partial indexes of the pending rows alone; the ProcessedAt index holds processed rows only
            // (retention's question), so the planner cannot answer them from it. From the full indexes a job's were a
            // bitmap AND of every pending entry of ProcessedAt's (and, since a bitmap scan never marks dead entries, of
            // every row marked processed since the last vacuum) with the job's: 40% of the server's statement time while
            // callbacks came in flat out. Not on SQLite, which removes an updated row's entries at once: there the two
            // more indexes cost the writes more than they saved the reads (docs/performance.md).
            e.HasIndex(c => c.ProcessedAt).HasFilter("\"ProcessedAt\" IS NOT NULL");
            e.HasIndex(c => c.Id).HasDatabaseName("IX_provider_callbacks_Pending").HasFilter("\"ProcessedAt\" IS NULL");
            e.HasIndex(c => new { c.ProviderJobId, c.Id }).HasDatabaseName("IX_provider_callbacks_PendingOfJob").HasFilter("\"ProcessedAt\" IS NULL");
        });
    }
}

sealed class DateTimeOffsetToUtcTicksConverter() : Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<DateTimeOffset, long>(
    v => v.UtcTicks,
    v => new DateTimeOffset(v, TimeSpan.Zero));
