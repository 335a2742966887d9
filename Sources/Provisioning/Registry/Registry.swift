import Dispatch
import FleetProtocol
import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The provisioning registry: devices, pending devices, profiles, assignments and the audit log.
///
/// SQLite through a GRDB `DatabasePool` (WAL mode), schema by `DatabaseMigrator`. The file is created
/// with mode 0600 (SQLite gives its `-wal` and `-shm` files the same mode).
///
/// Concurrency: every mutation is one write transaction, and sequence numbers are allocated inside
/// the transaction that records them, so several provisiond processes sharing one registry never hand
/// out the same seq twice. SQLite itself however is a single-machine store: several *machines* need
/// the shared PostgreSQL registry from the design's scale path.
public final class Registry: Sendable {
    private let pool: DatabasePool
    private let cipher: AtRestCipher

    /// Opens (creating and migrating when needed) the registry at `path`.
    /// - Throws: ``ProvisioningError`` with code `storage` when the file cannot be created or opened.
    public init(path: String, cipher: AtRestCipher) throws(ProvisioningError) {
        self.cipher = cipher
        do {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw ProvisioningError(
                    .storage, "cannot create registry file \(path): \(String(cString: strerror(errno)))")
            }
            _ = fchmod(fd, 0o600)
            close(fd)
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA foreign_keys = ON")
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch let error as ProvisioningError {
            throw error
        } catch {
            throw ProvisioningError(.storage, "cannot open registry \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "device") { t in
                t.primaryKey("id", .text)
                t.column("publicKey", .blob).notNull()
                t.column("fingerprint", .text).notNull()
                t.column("groupName", .text).indexed()
                t.column("profile", .text)
                t.column("state", .text).notNull()
                t.column("lastSeq", .integer).notNull().defaults(to: 0)
                t.column("envelope", .text)
                t.column("envelopeKind", .text)
                t.column("envelopeAssignment", .text)
                t.column("acknowledged", .boolean).notNull().defaults(to: true)
                t.column("statusState", .text)
                t.column("statusSeq", .integer)
                t.column("statusReason", .text)
                t.column("statusDetail", .text)
                t.column("statusAt", .integer)
                t.column("createdAt", .integer).notNull()
                t.column("updatedAt", .integer).notNull()
            }
            try db.create(table: "pendingDevice") { t in
                t.primaryKey("id", .text)
                t.column("publicKey", .blob).notNull()
                t.column("fingerprint", .text).notNull()
                t.column("firstSeen", .integer).notNull()
                t.column("lastSeen", .integer).notNull()
                t.column("helloCount", .integer).notNull()
            }
            try db.create(table: "profile") { t in
                t.primaryKey("name", .text)
                t.column("ssid", .text).notNull()
                t.column("encryption", .text).notNull()
                t.column("hidden", .boolean)
                t.column("bssid", .text)
                t.column("eapType", .text)
                t.column("identity", .text)
                t.column("caCert", .text)
                t.column("secrets", .blob).notNull()
                t.column("revision", .integer).notNull()
                t.column("createdAt", .integer).notNull()
                t.column("updatedAt", .integer).notNull()
            }
            try db.create(table: "groupAssignment") { t in
                t.primaryKey("groupName", .text)
                t.column("profile", .text).notNull()
                t.column("updatedAt", .integer).notNull()
            }
            try db.create(table: "audit") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("ts", .integer).notNull()
                t.column("type", .text).notNull()
                t.column("device", .text).indexed()
                t.column("fingerprint", .text)
                t.column("seq", .integer)
                t.column("state", .text)
                t.column("reason", .text)
                t.column("detail", .text)
                t.column("operatorName", .text)
            }
        }
        migrator.registerMigration("v2-pending-seen-keys") { db in
            // Comma-separated fingerprints of every distinct key a pending id announced (at most
            // `PendingDeviceRecord.maxSeenKeys`): more than one means somebody else also says hello as that id.
            try db.alter(table: "pendingDevice") { t in
                t.add(column: "seenFingerprints", .text).notNull().defaults(to: "")
            }
            try db.execute(sql: "UPDATE pendingDevice SET seenFingerprints = fingerprint")
        }
        migrator.registerMigration("v3-pending-limits") { db in
            // A hello checks the pending cap against this counter, kept by triggers in the same
            // transaction as every insert and delete, instead of counting the table; the age limit
            // finds stale entries through the lastSeen index.
            try db.create(table: "pendingStats") { t in
                t.primaryKey("id", .integer).check { $0 == 1 }
                t.column("count", .integer).notNull()
                t.column("refused", .integer).notNull()
            }
            try db.execute(
                sql: "INSERT INTO pendingStats (id, count, refused) SELECT 1, COUNT(*), 0 FROM pendingDevice")
            try db.execute(
                sql: """
                    CREATE TRIGGER pendingInserted AFTER INSERT ON pendingDevice
                        BEGIN UPDATE pendingStats SET count = count + 1 WHERE id = 1; END;
                    CREATE TRIGGER pendingDeleted AFTER DELETE ON pendingDevice
                        BEGIN UPDATE pendingStats SET count = count - 1 WHERE id = 1; END;
                    """)
            try db.create(index: "pendingDeviceLastSeen", on: "pendingDevice", columns: ["lastSeen"])
        }
        migrator.registerMigration("v4-site") { db in
            // The site a registry belongs to (`provisiond --site`), fixed by the first start that
            // names one: another site's provisiond must not hand out this site's profiles.
            try db.create(table: "registryInfo") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
        }
        return migrator
    }

    /// Binds the registry to `site`: the first start that names a site records it; a later start
    /// with another site, or with none, is refused.
    /// - Throws: ``ProvisioningError`` `storage` naming both sites when they differ.
    public func bind(site: String?) throws(ProvisioningError) {
        let recorded: String?
        do {
            recorded = try pool.write { db -> String? in
                let current = try String.fetchOne(db, sql: "SELECT value FROM registryInfo WHERE key = 'site'")
                if current == nil, let site {
                    try db.execute(sql: "INSERT INTO registryInfo (key, value) VALUES ('site', ?)", arguments: [site])
                    return site
                }
                return current
            }
        } catch {
            throw ProvisioningError(.storage, "cannot read the registry's site: \(error)")
        }
        if let problem = Self.siteMismatch(recorded: recorded, wanted: site) {
            throw ProvisioningError(.storage, problem)
        }
    }

    /// Why a registry bound to `recorded` cannot serve `wanted`, or nil when it can.
    public static func siteMismatch(recorded: String?, wanted: String?) -> String? {
        guard let recorded, recorded != wanted else { return nil }
        return wanted.map { "the registry belongs to site '\(recorded)', not '\($0)' (--site)" }
            ?? "the registry belongs to site '\(recorded)': start provisiond with --site \(recorded)"
    }

    /// The journal mode SQLite reports, `wal` for a healthy registry.
    public func journalMode() throws(ProvisioningError) -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    // MARK: - Engine store

    /// Loads `scope`, runs `decide` and applies its changes in one write transaction, on GRDB's
    /// async API (the writer's queue, not the caller's thread).
    ///
    /// Seqs are allocated by `decide` from the state loaded in this transaction, so several
    /// provisiond processes sharing the registry never hand out the same seq twice.
    /// - Throws: `decide`'s error as it is; ``ProvisioningError`` `storage` when SQLite fails,
    ///   `secrets_unreadable` when a profile's secrets belong to another service key.
    public func transact(_ scope: StateScope, _ decide: @escaping @Sendable (FleetState) throws -> Decision)
        async throws -> Decision
    {
        do {
            return try await pool.write { [cipher] db in
                let decision = try decide(try Self.load(scope, db, cipher: cipher))
                try Self.apply(decision.changes, db, cipher: cipher)
                return decision
            }
        } catch let error as DatabaseError {
            throw ProvisioningError(.storage, "registry transaction failed: \(error)")
        }
    }

    /// Several decisions in one write transaction: one commit (one WAL sync) for the whole group.
    ///
    /// Decisions on the same scope form a chain, run in order on the state the previous ones left;
    /// when every scope is one device, the chains are independent and run on all cores (sealing an
    /// envelope is the expensive part of a hello). Their changes are then written in event order.
    /// Seqs are still allocated from state loaded in this transaction, so a seq is sealed once.
    /// - Throws: ``ProvisioningError`` `storage` when SQLite fails; then nothing of the batch is
    ///   written.
    public func transact(
        batch scopes: [StateScope], _ decide: @escaping @Sendable (Int, FleetState) throws -> Decision
    ) async throws -> [Result<Decision, any Error>] {
        guard !scopes.isEmpty else { return [] }
        do {
            return try await pool.write { [cipher] db in
                var chains: [[Int]] = []
                var chainOf: [StateScope: Int] = [:]
                for (index, scope) in scopes.enumerated() {
                    if let chain = chainOf[scope] {
                        chains[chain].append(index)
                    } else {
                        chainOf[scope] = chains.count
                        chains.append([index])
                    }
                }
                let independent = scopes.allSatisfy { if case .device = $0 { true } else { false } }
                let results = BatchResults(count: scopes.count)
                if independent {
                    let states = try Self.loadDevices(
                        chains.map { chain -> String in
                            guard case .device(let id) = scopes[chain[0]] else { return "" }
                            return id.rawValue
                        }, db, cipher: cipher)
                    let ordered = chains
                    DispatchQueue.concurrentPerform(iterations: ordered.count) { chain in
                        var state = states[chain]
                        for index in ordered[chain] {
                            results.set(index, Result { try decide(index, state) })
                            if case .success(let decision) = results.get(index) {
                                for change in decision.changes { state.apply(change) }
                            }
                        }
                    }
                    for index in scopes.indices {
                        if case .success(let decision) = results.get(index) {
                            try Self.apply(decision.changes, db, cipher: cipher)
                        }
                    }
                } else {
                    // Overlapping scopes (the fleet, a device in it): one after the other, each
                    // loading what the previous one wrote.
                    for index in scopes.indices {
                        let state = try Self.load(scopes[index], db, cipher: cipher)
                        results.set(index, Result { try decide(index, state) })
                        if case .success(let decision) = results.get(index) {
                            try Self.apply(decision.changes, db, cipher: cipher)
                        }
                    }
                }
                return scopes.indices.map { results.get($0) }
            }
        } catch let error as DatabaseError {
            throw ProvisioningError(.storage, "registry transaction failed: \(error)")
        }
    }

    /// The registry rows `scope` covers, as engine state.
    static func load(_ scope: StateScope, _ db: Database, cipher: AtRestCipher) throws -> FleetState {
        var state = FleetState()
        if let row = try Row.fetchOne(db, sql: "SELECT count, refused FROM pendingStats WHERE id = 1") {
            state.pendingCount = row["count"]
            state.pendingRefused = row["refused"]
        }
        switch scope {
        case .device(let id):
            if let device = try DeviceRecord.fetchOne(db, key: id.rawValue) {
                state.devices[device.id] = device
                if let group = device.groupName, let row = try GroupAssignmentRow.fetchOne(db, key: group) {
                    state.groupProfiles[group] = row.profile
                }
                if let name = device.profile ?? device.groupName.flatMap({ state.groupProfiles[$0] }),
                    let row = try ProfileRow.fetchOne(db, key: name)
                {
                    state.profiles[name] = try profile(row, cipher: cipher)
                }
            }
            if let entry = try PendingDeviceRecord.fetchOne(db, key: id.rawValue) { state.pending[entry.id] = entry }
        case .stalePending(let before):
            let request = PendingDeviceRecord.filter(Column("lastSeen") < before).order(Column("lastSeen"))
            for entry in try request.limit(StateScope.staleBatch).fetchAll(db) { state.pending[entry.id] = entry }
        case .unacknowledged:
            let request = DeviceRecord.filter(Column("acknowledged") == false && Column("envelope") != nil)
            for device in try request.fetchAll(db) { state.devices[device.id] = device }
        case .devices(let ids):
            for device in try DeviceRecord.fetchAll(db, keys: ids) { state.devices[device.id] = device }
            for entry in try PendingDeviceRecord.fetchAll(db, keys: ids) { state.pending[entry.id] = entry }
        case .devicePage(let after, let limit, let group):
            var request = DeviceRecord.order(Column("id")).limit(limit)
            if let after { request = request.filter(Column("id") > after) }
            if let group { request = request.filter(Column("groupName") == group) }
            for device in try request.fetchAll(db) { state.devices[device.id] = device }
            for row in try GroupAssignmentRow.fetchAll(db) { state.groupProfiles[row.groupName] = row.profile }
            for row in try ProfileRow.fetchAll(db) { state.profiles[row.name] = try profile(row, cipher: cipher) }
        case .pendingPage(let after, let limit):
            var request = PendingDeviceRecord.order(Column("id")).limit(limit)
            if let after { request = request.filter(Column("id") > after) }
            for entry in try request.fetchAll(db) { state.pending[entry.id] = entry }
        case .fleet:
            for device in try DeviceRecord.fetchAll(db) { state.devices[device.id] = device }
            for entry in try PendingDeviceRecord.fetchAll(db) { state.pending[entry.id] = entry }
            for row in try GroupAssignmentRow.fetchAll(db) { state.groupProfiles[row.groupName] = row.profile }
            for row in try ProfileRow.fetchAll(db) { state.profiles[row.name] = try profile(row, cipher: cipher) }
        }
        return state
    }

    /// What ``load(_:_:cipher:)`` loads for `.device(id)`, for each of `ids` (distinct), in a few
    /// queries for all of them instead of three or four per device.
    static func loadDevices(_ ids: [String], _ db: Database, cipher: AtRestCipher) throws -> [FleetState] {
        var devices: [String: DeviceRecord] = [:]
        var pending: [String: PendingDeviceRecord] = [:]
        for part in stride(from: 0, to: ids.count, by: 500) {
            let keys = Array(ids[part..<min(part + 500, ids.count)])
            for device in try DeviceRecord.fetchAll(db, keys: keys) { devices[device.id] = device }
            for entry in try PendingDeviceRecord.fetchAll(db, keys: keys) { pending[entry.id] = entry }
        }
        let groups = Set(devices.values.compactMap(\.groupName))
        var groupProfiles: [String: String] = [:]
        for row in try GroupAssignmentRow.fetchAll(db, keys: Array(groups)) {
            groupProfiles[row.groupName] = row.profile
        }
        let names = Set(devices.values.compactMap { $0.profile ?? $0.groupName.flatMap { groupProfiles[$0] } })
        var profiles: [String: StoredProfile] = [:]
        for row in try ProfileRow.fetchAll(db, keys: Array(names)) {
            profiles[row.name] = try profile(row, cipher: cipher)
        }
        let stats = try Row.fetchOne(db, sql: "SELECT count, refused FROM pendingStats WHERE id = 1")
        return ids.map { id in
            var state = FleetState()
            if let stats {
                state.pendingCount = stats["count"]
                state.pendingRefused = stats["refused"]
            }
            if let device = devices[id] {
                state.devices[id] = device
                if let group = device.groupName, let profile = groupProfiles[group] {
                    state.groupProfiles[group] = profile
                }
                if let name = device.profile ?? device.groupName.flatMap({ groupProfiles[$0] }),
                    let profile = profiles[name]
                {
                    state.profiles[name] = profile
                }
            }
            if let entry = pending[id] { state.pending[id] = entry }
            return state
        }
    }

    /// Writes the changes of a decision, in order. Profile secrets are sealed at rest here.
    static func apply(_ changes: [StateChange], _ db: Database, cipher: AtRestCipher) throws {
        for change in changes {
            switch change {
            case .saveDevice(let device): try device.save(db)
            case .savePending(let entry): try entry.save(db)
            case .deletePending(let id): _ = try PendingDeviceRecord.deleteOne(db, key: id)
            case .countRefusedHello:
                try db.execute(sql: "UPDATE pendingStats SET refused = refused + 1 WHERE id = 1")
            case .saveProfile(let stored, let now):
                let p = stored.profile
                let sealed = try cipher.seal(ProfileSecrets(key: p.key, password: p.password), context: stored.name)
                let createdAt = try ProfileRow.fetchOne(db, key: stored.name)?.createdAt ?? now
                try ProfileRow(
                    name: stored.name, ssid: p.ssid, encryption: p.encryption, hidden: p.hidden, bssid: p.bssid,
                    eapType: p.eapType, identity: p.identity, caCert: p.caCert, secrets: sealed,
                    revision: stored.revision, createdAt: createdAt, updatedAt: now
                ).save(db)
            case .deleteProfile(let name): _ = try ProfileRow.deleteOne(db, key: name)
            case .assignGroup(let group, let profile, let now):
                try GroupAssignmentRow(groupName: group, profile: profile, updatedAt: now).save(db)
            case .appendAudit(let record): _ = try record.inserted(db)
            }
        }
    }

    /// SQLite's query plan for every statement that loading `scope` runs, one line per step: a hello
    /// must find its rows by key (`SEARCH … USING … PRIMARY KEY`), never `SCAN` a table. For tests.
    func queryPlans(loading scope: StateScope) throws -> [String] {
        try pool.write { [cipher] db in
            // Only this closure's transaction runs on `db` while tracing; the box is not shared further.
            final class Statements: @unchecked Sendable { var sql: [String] = [] }
            let statements = Statements()
            db.trace(options: .statement) { statements.sql.append($0.expandedDescription) }
            defer { db.trace(options: [], nil) }
            _ = try Self.load(scope, db, cipher: cipher)
            return try statements.sql.flatMap { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(sql)").map {
                    "\(sql): \($0["detail"] as String? ?? "")"
                }
            }
        }
    }

    // MARK: - Reads (tools and tests; the service goes through `transact`)

    public func device(_ id: String) throws(ProvisioningError) -> DeviceRecord? {
        try read { db in try DeviceRecord.fetchOne(db, key: id) }
    }

    public func devices() throws(ProvisioningError) -> [DeviceRecord] {
        try read { db in try DeviceRecord.order(Column("id")).fetchAll(db) }
    }

    public func pendingDevices() throws(ProvisioningError) -> [PendingDeviceRecord] {
        try read { db in try PendingDeviceRecord.order(Column("id")).fetchAll(db) }
    }

    /// The profile with its secrets decrypted, or nil.
    public func profile(_ name: String) throws(ProvisioningError) -> StoredProfile? {
        guard let row = try read({ db in try ProfileRow.fetchOne(db, key: name) }) else { return nil }
        return try Self.profile(row, cipher: cipher)
    }

    private static func profile(_ row: ProfileRow, cipher: AtRestCipher) throws(ProvisioningError) -> StoredProfile {
        let secrets = try cipher.open(row.secrets, context: row.name)
        let profile = WiFiProfile(
            ssid: row.ssid, encryption: row.encryption, key: secrets.key, hidden: row.hidden, bssid: row.bssid,
            eapType: row.eapType, identity: row.identity, password: secrets.password, caCert: row.caCert)
        return StoredProfile(name: row.name, profile: profile, revision: row.revision)
    }

    public func auditLog(limit: Int = 100) throws(ProvisioningError) -> [AuditRecord] {
        try read { db in try AuditRecord.order(Column("id").desc).limit(limit).fetchAll(db).reversed() }
    }

    // MARK: - Plumbing

    private func read<T>(_ body: (Database) throws -> T) throws(ProvisioningError) -> T {
        do {
            return try pool.read(body)
        } catch let error as ProvisioningError {
            throw error
        } catch {
            throw ProvisioningError(.storage, "registry read failed: \(error)")
        }
    }
}

extension Registry: EngineStore {}

/// The results of a batch's decisions, written by the threads that run them (each index by one).
private final class BatchResults: Sendable {
    private let results: Mutex<[Result<Decision, any Error>]>

    init(count: Int) {
        results = Mutex(Array(repeating: .failure(CancellationError()), count: count))
    }

    func set(_ index: Int, _ result: Result<Decision, any Error>) { results.withLock { $0[index] = result } }
    func get(_ index: Int) -> Result<Decision, any Error> { results.withLock { $0[index] } }
}
