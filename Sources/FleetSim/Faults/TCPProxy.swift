import Foundation
import Glibc
import Synchronization

/// What a ``TCPProxy`` does with its connections.
public enum ProxyMode: Sendable, Hashable {
    /// Forwards both directions.
    case pass
    /// Forwards nothing and keeps every connection open: a network partition whose packets vanish
    /// (what the two ends see once their buffers fill: silence until the keepalive runs out).
    case freeze
    /// Forwards client → server only: the server's answers (PUBACK, deliveries) are held back.
    case freezeDownstream
    /// Like `freezeDownstream`, but a connection opened from now on still gets the server's first
    /// MQTT packet (its CONNACK): a client that reconnects (an agent after a Wi-Fi switch) gets in,
    /// publishes, and waits for the PUBACK that never comes.
    case freezeDownstreamAfterConnack
    /// Closes every connection and refuses new ones (accepts and closes them at once).
    case drop
}

/// A TCP proxy on loopback between clients and one server port, run by the fault harness to cut,
/// freeze and restore connections (a network partition) without touching either end.
///
/// One thread polls the listening socket and every connection pair; frozen directions are simply not
/// read, so the bytes wait in the kernel's buffers and TCP's flow control does the rest.
public final class TCPProxy: Sendable {
    /// The port clients connect to.
    public let port: Int
    public let targetPort: Int
    private let mode = Mutex<ProxyMode>(.pass)
    private let running = Mutex(true)
    private let connections = Mutex(0)
    private let listener: Int32
    private let done = Mutex(false)

    /// Listens on a free loopback port and forwards to `127.0.0.1:targetPort`.
    /// - Throws: `FleetSimError` when no socket can be opened.
    public init(targetPort: Int) throws {
        self.targetPort = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw FleetSimError("proxy: socket failed: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            close(fd)
            throw FleetSimError("proxy: bind/listen failed: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let worker = Thread { [self] in loop() }
        worker.name = "fault-proxy-\(port)"
        worker.start()
    }

    /// Changes what happens to the connections from now on.
    public func set(_ newMode: ProxyMode) { mode.withLock { $0 = newMode } }
    public var currentMode: ProxyMode { mode.withLock { $0 } }
    /// Connection pairs open now.
    public var openConnections: Int { connections.withLock { $0 } }

    /// Closes every connection and the listener; returns once the thread has finished.
    public func stop() async {
        running.withLock { $0 = false }
        while !done.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private struct Pair {
        var client: Int32
        var server: Int32
        /// Whether anything came from the server yet (the first packet of MQTT's server is CONNACK).
        var answered = false
    }

    private func loop() {
        var pairs: [Pair] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while running.withLock({ $0 }) {
            let current = mode.withLock { $0 }
            if current == .drop, !pairs.isEmpty {
                for pair in pairs {
                    close(pair.client)
                    close(pair.server)
                }
                pairs.removeAll()
            }
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for pair in pairs {
                let up = current == .pass || current == .freezeDownstream || current == .freezeDownstreamAfterConnack
                let down = current == .pass || (current == .freezeDownstreamAfterConnack && !pair.answered)
                fds.append(pollfd(fd: pair.client, events: up ? Int16(POLLIN) : 0, revents: 0))
                fds.append(pollfd(fd: pair.server, events: down ? Int16(POLLIN) : 0, revents: 0))
            }
            let polled = pairs.count
            let ready = poll(&fds, nfds_t(fds.count), 50)
            if ready <= 0 { continue }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let client = accept(listener, nil, nil)
                if client >= 0 {
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    if current == .drop {
                        close(client)
                    } else if let server = connectTarget() {
                        setNoDelay(client)
                        pairs.append(Pair(client: client, server: server))
                    } else {
                        close(client)
                    }
                }
            }
            var closed = Set<Int>()
            for (i, pair) in pairs.prefix(polled).enumerated() {
                let clientEvents = fds[1 + 2 * i].revents
                let serverEvents = fds[2 + 2 * i].revents
                if clientEvents != 0, !forward(from: pair.client, to: pair.server, &buffer) { closed.insert(i) }
                if serverEvents != 0 {
                    let ok =
                        current == .pass
                        ? forward(from: pair.server, to: pair.client, &buffer)
                        : forwardOnePacket(from: pair.server, to: pair.client)
                    if ok { pairs[i].answered = true } else { closed.insert(i) }
                }
            }
            if !closed.isEmpty {
                for i in closed.sorted(by: >) {
                    close(pairs[i].client)
                    close(pairs[i].server)
                    pairs.remove(at: i)
                }
            }
            connections.withLock { $0 = pairs.count }
        }
        for pair in pairs {
            close(pair.client)
            close(pair.server)
        }
        close(listener)
        connections.withLock { $0 = 0 }
        done.withLock { $0 = true }
    }

    /// Reads what is there and writes all of it (blocking: loopback peers read promptly, and a
    /// frozen peer is never written to because its partner is not read). False when either side closed.
    private func forward(from source: Int32, to destination: Int32, _ buffer: inout [UInt8]) -> Bool {
        let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
        if count <= 0 { return count < 0 && (errno == EAGAIN || errno == EINTR) }
        var offset = 0
        while offset < count {
            let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + offset, count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Forwards exactly one MQTT control packet (fixed header, remaining length, body), reading no
    /// further. False when either side closed or the packet is malformed.
    private func forwardOnePacket(from source: Int32, to destination: Int32) -> Bool {
        var packet: [UInt8] = []
        func readExactly(_ n: Int) -> Bool {
            var chunk = [UInt8](repeating: 0, count: n)
            var got = 0
            while got < n {
                let r = chunk.withUnsafeMutableBytes { read(source, $0.baseAddress! + got, n - got) }
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { return false }
                got += r
            }
            packet += chunk
            return true
        }
        guard readExactly(1) else { return false }
        var remaining = 0
        var shift = 0
        repeat {
            guard shift <= 21, readExactly(1) else { return false }
            remaining |= Int(packet.last! & 0x7F) << shift
            shift += 7
        } while packet.last! & 0x80 != 0
        guard remaining == 0 || readExactly(remaining) else { return false }
        var offset = 0
        while offset < packet.count {
            let written = packet.withUnsafeBytes { write(destination, $0.baseAddress! + offset, packet.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    private func connectTarget() -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = Self.loopback(port: targetPort)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            return nil
        }
        setNoDelay(fd)
        return fd
    }

    private func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
