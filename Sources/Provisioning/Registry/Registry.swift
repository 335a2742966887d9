import FleetProtocol
import Foundation
import GRDB

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
            // `maxSeenPendingKeys`): more than one means somebody else also says hello as that id.
            try db.alter(table: "pendingDevice") { t in
                t.add(column: "seenFingerprints", .text).notNull().defaults(to: "")
            }
            try db.execute(sql: "UPDATE pendingDevice SET seenFingerprints = fingerprint")
        }
        return migrator
    }

    /// How many distinct keys a pending entry remembers; more are not recorded (approval is refused anyway).
    public static let maxSeenPendingKeys = 8

    /// The journal mode SQLite reports, `wal` for a healthy registry.
    public func journalMode() throws(ProvisioningError) -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    // MARK: - Devices

    /// Enrolls a device from its bootstrap URI data.
    ///
    /// Idempotent for the same key (updates the group when given); a revoked device may be enrolled
    /// again and starts over. Removes a pending entry of the same id.
    /// - Throws: `key_conflict` when the id is enrolled with another key.
    @discardableResult
    public func enroll(id: String, publicKey: Data, fingerprint: String, group: String?, now: Int64)
        throws(ProvisioningError)
        -> DeviceRecord
    {
        try write { db in
            try Self.enroll(db, id: id, publicKey: publicKey, fingerprint: fingerprint, group: group, now: now).device
        }
    }

    /// The enrollment inside the caller's write transaction; also returns the record before it.
    private static func enroll(
        _ db: Database, id: String, publicKey: Data, fingerprint: String, group: String?, now: Int64
    ) throws -> (before: DeviceRecord?, device: DeviceRecord) {
        if let before = try DeviceRecord.fetchOne(db, key: id) {
            var existing = before
            if existing.state == .revoked {
                existing.startOver(publicKey: publicKey, fingerprint: fingerprint)
            } else if existing.publicKey != publicKey {
                throw ProvisioningError(
                    .keyConflict,
                    "device '\(id)' is enrolled with another key (\(existing.fingerprint)); revoke it first")
            }
            if let group { existing.groupName = group }
            existing.updatedAt = now
            try existing.update(db)
            _ = try PendingDeviceRecord.deleteOne(db, key: id)
            return (before, existing)
        }
        let record = DeviceRecord(
            id: id, publicKey: publicKey, fingerprint: fingerprint, groupName: group, profile: nil,
            state: .enrolled, lastSeq: 0, envelope: nil, envelopeKind: nil, envelopeAssignment: nil,
            acknowledged: true, statusState: nil, statusSeq: nil, statusReason: nil, statusDetail: nil,
            statusAt: nil, createdAt: now, updatedAt: now)
        try record.insert(db)
        _ = try PendingDeviceRecord.deleteOne(db, key: id)
        return (nil, record)
    }

    /// Enrolls a pending device with the key it announced, if that key has `expectedFingerprint`
    /// (the one the operator compared with the device's label).
    ///
    /// Check and enrollment are one write transaction: a hello with another key arriving at any moment
    /// cannot slip its key in between.
    /// - Returns: the device record before (nil for a new device) and after the enrollment.
    /// - Throws: `not_pending` when no hello from that id is on record; `fingerprint_mismatch` when the
    ///   pending key has another fingerprint; `conflicting_keys` when the id announced more than one
    ///   distinct key. Nothing changes in all these cases.
    @discardableResult
    public func approve(id: String, expectedFingerprint: String, group: String?, now: Int64) throws(ProvisioningError)
        -> (before: DeviceRecord?, device: DeviceRecord)
    {
        try write { db in
            guard let pending = try PendingDeviceRecord.fetchOne(db, key: id) else {
                throw ProvisioningError(.notPending, "no pending device '\(id)'")
            }
            let seen = pending.seenFingerprintList
            if seen.count > 1 {
                throw ProvisioningError(
                    .conflictingKeys,
                    "conflicting keys seen for \(id): \(seen.joined(separator: ", ")); another party also says hello "
                        + "as this device. Re-verify the device (its label) and enroll it by its bootstrap URI")
            }
            guard pending.fingerprint == expectedFingerprint.lowercased() else {
                throw ProvisioningError(
                    .fingerprintMismatch,
                    "device '\(id)' announced fingerprint \(pending.fingerprint), not \(expectedFingerprint)")
            }
            return try Self.enroll(
                db, id: id, publicKey: pending.publicKey, fingerprint: pending.fingerprint, group: group, now: now)
        }
    }

    /// Records a hello from a device that is not enrolled. The latest key is the one shown, and every
    /// distinct key is remembered (up to ``maxSeenPendingKeys``) so that an approval can see conflicts.
    @discardableResult
    public func recordPending(id: String, publicKey: Data, fingerprint: String, now: Int64) throws(ProvisioningError)
        -> PendingDeviceRecord
    {
        try write { db in
            var record =
                try PendingDeviceRecord.fetchOne(db, key: id)
                ?? PendingDeviceRecord(
                    id: id, publicKey: publicKey, fingerprint: fingerprint, firstSeen: now, lastSeen: now,
                    helloCount: 0, seenFingerprints: "")
            var seen = record.seenFingerprintList
            if !seen.contains(fingerprint), seen.count < Self.maxSeenPendingKeys {
                seen.append(fingerprint)
                record.seenFingerprints = seen.joined(separator: ",")
            }
            record.publicKey = publicKey
            record.fingerprint = fingerprint
            record.lastSeen = now
            record.helloCount += 1
            try record.save(db)
            return record
        }
    }

    public func device(_ id: String) throws(ProvisioningError) -> DeviceRecord? {
        try read { db in try DeviceRecord.fetchOne(db, key: id) }
    }

    /// The device, or `unknown_device`.
    public func requireDevice(_ id: String) throws(ProvisioningError) -> DeviceRecord {
        guard let device = try device(id) else { throw ProvisioningError(.unknownDevice, "no device '\(id)'") }
        return device
    }

    public func devices() throws(ProvisioningError) -> [DeviceRecord] {
        try read { db in try DeviceRecord.order(Column("id")).fetchAll(db) }
    }

    public func devices(inGroup group: String) throws(ProvisioningError) -> [DeviceRecord] {
        try read { db in try DeviceRecord.filter(Column("groupName") == group).order(Column("id")).fetchAll(db) }
    }

    public func pendingDevices() throws(ProvisioningError) -> [PendingDeviceRecord] {
        try read { db in try PendingDeviceRecord.order(Column("id")).fetchAll(db) }
    }

    /// Devices whose latest envelope was published but never acknowledged: what a restarted service
    /// republishes, because the broker may have lost retained messages since its last autosave.
    public func unacknowledgedDevices() throws(ProvisioningError) -> [DeviceRecord] {
        try read { db in
            try DeviceRecord.filter(Column("acknowledged") == false && Column("envelope") != nil)
                .order(Column("id")).fetchAll(db)
        }
    }

    /// Allocates the next seq and stores the envelope sealed with it, in one transaction.
    ///
    /// `seal` receives the new seq and returns the envelope JSON; it runs inside the write transaction,
    /// so it must be quick and must not touch the registry.
    @discardableResult
    public func storeNewEnvelope(
        device id: String, kind: PayloadKind, assignment: String?, now: Int64,
        seal: @Sendable (DeviceRecord, Int64) throws -> String
    ) throws -> DeviceRecord {
        try pool.write { db in
            guard var device = try DeviceRecord.fetchOne(db, key: id) else {
                throw ProvisioningError(.unknownDevice, "no device '\(id)'")
            }
            let seq = device.lastSeq + 1
            device.recordEnvelope(try seal(device, seq), kind: kind, seq: seq, assignment: assignment, now: now)
            try device.update(db)
            return device
        }
    }

    /// Records a status report. Returns the updated device, or nil when the device is not enrolled.
    ///
    /// How the report moves the device's lifecycle is ``DeviceRecord/recordStatus(_:seq:reason:detail:now:)``.
    @discardableResult
    public func recordStatus(
        device id: String, state: DeviceState, seq: Int64, reason: ReasonCode?, detail: String?, now: Int64
    ) throws(ProvisioningError) -> DeviceRecord? {
        try write { db in
            guard var device = try DeviceRecord.fetchOne(db, key: id) else { return nil }
            device.recordStatus(state, seq: seq, reason: reason, detail: detail, now: now)
            try device.update(db)
            return device
        }
    }

    /// Sets or clears (`nil`) a device's own profile assignment.
    public func assign(profile: String?, devices ids: [String], now: Int64) throws(ProvisioningError) {
        try write { db in
            if let profile, try ProfileRow.fetchOne(db, key: profile) == nil {
                throw ProvisioningError(.unknownProfile, "no profile '\(profile)'")
            }
            for id in ids {
                guard var device = try DeviceRecord.fetchOne(db, key: id) else {
                    throw ProvisioningError(.unknownDevice, "no device '\(id)'")
                }
                device.profile = profile
                device.updatedAt = now
                try device.update(db)
            }
        }
    }

    /// Sets or clears (`nil`) a group's profile assignment.
    public func assign(profile: String?, group: String, now: Int64) throws(ProvisioningError) {
        try write { db in
            guard let profile else {
                _ = try GroupAssignmentRow.deleteOne(db, key: group)
                return
            }
            if try ProfileRow.fetchOne(db, key: profile) == nil {
                throw ProvisioningError(.unknownProfile, "no profile '\(profile)'")
            }
            try GroupAssignmentRow(groupName: group, profile: profile, updatedAt: now).save(db)
        }
    }

    /// The profile that applies to a device: its own assignment, else its group's, else none.
    public func effectiveProfile(for device: DeviceRecord) throws(ProvisioningError) -> StoredProfile? {
        let name: String? = try read { db in
            if let own = device.profile { return own }
            guard let group = device.groupName else { return nil }
            return try GroupAssignmentRow.fetchOne(db, key: group)?.profile
        }
        guard let name else { return nil }
        return try profile(name)
    }

    // MARK: - Profiles

    /// Adds or replaces a profile; a replacement gets the next revision. Secrets are sealed at rest.
    /// - Returns: the profile as saved, with its revision.
    @discardableResult
    public func saveProfile(_ stored: StoredProfile, now: Int64) throws(ProvisioningError) -> StoredProfile {
        let p = stored.profile
        let sealed = try cipher.seal(ProfileSecrets(key: p.key, password: p.password), context: stored.name)
        return try write { db in
            let existing = try ProfileRow.fetchOne(db, key: stored.name)
            let row = ProfileRow(
                name: stored.name, ssid: p.ssid, encryption: p.encryption, hidden: p.hidden, bssid: p.bssid,
                eapType: p.eapType, identity: p.identity, caCert: p.caCert, secrets: sealed,
                revision: (existing?.revision ?? 0) + 1, createdAt: existing?.createdAt ?? now, updatedAt: now)
            try row.save(db)
            var saved = stored
            saved.revision = row.revision
            return saved
        }
    }

    /// The profile with its secrets decrypted, or nil.
    public func profile(_ name: String) throws(ProvisioningError) -> StoredProfile? {
        guard let row = try read({ db in try ProfileRow.fetchOne(db, key: name) }) else { return nil }
        let secrets = try cipher.open(row.secrets, context: row.name)
        let profile = WiFiProfile(
            ssid: row.ssid, encryption: row.encryption, key: secrets.key, hidden: row.hidden, bssid: row.bssid,
            eapType: row.eapType, identity: row.identity, password: secrets.password, caCert: row.caCert)
        return StoredProfile(name: row.name, profile: profile, revision: row.revision)
    }

    /// Every profile without its secrets, by name.
    public func profiles() throws(ProvisioningError) -> [ProfileInfo] {
        try read { db in
            try ProfileRow.order(Column("name")).fetchAll(db).map { row in
                ProfileInfo(
                    name: row.name, ssid: row.ssid, encryption: row.encryption, hidden: row.hidden ?? false,
                    revision: row.revision)
            }
        }
    }

    /// Removes a profile that nothing is assigned to.
    /// - Throws: `unknown_profile`, or `profile_in_use` naming who uses it.
    public func removeProfile(_ name: String) throws(ProvisioningError) {
        try write { db in
            guard try ProfileRow.fetchOne(db, key: name) != nil else {
                throw ProvisioningError(.unknownProfile, "no profile '\(name)'")
            }
            let devices = try String.fetchAll(
                db, sql: "SELECT id FROM device WHERE profile = ? AND state != 'revoked' ORDER BY id", arguments: [name]
            )
            let groups = try String.fetchAll(
                db, sql: "SELECT groupName FROM groupAssignment WHERE profile = ? ORDER BY groupName", arguments: [name]
            )
            if !devices.isEmpty || !groups.isEmpty {
                let users = (devices.map { "device \($0)" } + groups.map { "group \($0)" }).joined(separator: ", ")
                throw ProvisioningError(.profileInUse, "profile '\(name)' is assigned to \(users); reassign them first")
            }
            _ = try ProfileRow.deleteOne(db, key: name)
        }
    }

    // MARK: - Audit

    @discardableResult
    public func appendAudit(_ record: AuditRecord) throws(ProvisioningError) -> AuditRecord {
        try write { db in
            try record.inserted(db)
        }
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

    private func write<T>(_ body: (Database) throws -> T) throws(ProvisioningError) -> T {
        do {
            return try pool.write(body)
        } catch let error as ProvisioningError {
            throw error
        } catch {
            throw ProvisioningError(.storage, "registry write failed: \(error)")
        }
    }
}
