import FleetProtocol

/// Broker account removals waiting for the plugin's answer to the ownership check.
///
/// provisiond deletes a device's broker account only after `getClient` showed it is one provisiond
/// created (``DynSecCommands/isDeviceAccount(_:of:)``). A registration that follows a removal (a
/// revoked id enrolled again) waits here too, so it reaches the broker after the deletion.
actor AccountRemovals {
    private var waiting: [DeviceID: [UInt8]?] = [:]

    /// Records a removal of `id` whose check was sent.
    func begin(_ id: DeviceID) {
        if waiting[id] == nil { waiting[id] = .some(nil) }
    }

    /// Keeps `command` (a registration of `id`) until its pending removal is decided; false when no
    /// removal of `id` is pending, so the caller sends it at once.
    func deferRegistration(of id: DeviceID, _ command: [UInt8]) -> Bool {
        guard waiting[id] != nil else { return false }
        waiting[id] = .some(command)
        return true
    }

    /// The devices whose removal still waits for an answer (asked again after a reconnect: an answer
    /// sent while provisiond was away is lost).
    func waitingDevices() -> [DeviceID] {
        waiting.keys.sorted { $0.rawValue < $1.rawValue }
    }

    /// Ends the pending removal of `id`: nil when there was none (an answer to another instance),
    /// else the registration that waited for it, if any.
    func finish(_ id: DeviceID) -> [UInt8]?? {
        waiting.removeValue(forKey: id)
    }
}
