import EdgeCore
import Foundation

/// The kernel's w1 subsystem through sysfs (`/sys/bus/w1/devices`; root configurable so
/// tests read a simulated tree through this same code).
///
/// Reading `w1_slave` blocks in the kernel for the 750 ms conversion, so every file access
/// runs on `BlockingIO.sensorBus` and the caller's task suspends instead of holding a
/// cooperative thread.
public struct SysfsOneWire: OneWireBus {
    public let root: String

    public init(root: String = "/sys/bus/w1/devices") { self.root = root }

    /// The slaves the bus masters list; in a copy of the directory without its masters (what
    /// a keeper copies for a bug report), the slave directories themselves.
    public func slaves() async throws -> [String] {
        try await BlockingIO.sensorBus.run { [root] in
            let entries = try Self.contents(of: root)
            let masters = entries.filter { $0.hasPrefix("w1_bus_master") }
            guard !masters.isEmpty else { return entries.filter(DeviceNames.isOneWireSlave).sorted() }
            var ids: [String] = []
            for master in masters.sorted() {
                let text = try Self.readFile("\(root)/\(master)/w1_master_slaves")
                ids += text.split(separator: "\n").map(String.init).filter { $0 != "not found." }
            }
            return ids
        }
    }

    public func read(slave: String, file: String) async throws -> String {
        // Only the kernel's slave id form and plain file names: nothing can climb out of `root`.
        guard DeviceNames.isOneWireSlave(slave), DeviceNames.isPlainName(file) else {
            throw BusError.noDevice("invalid 1-Wire name \(slave)/\(file): a slave is 2 hex digits, '-', 12 hex digits")
        }
        let path = "\(root)/\(slave)/\(file)"
        return try await BlockingIO.sensorBus.run {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: "\(root)/\(slave)", isDirectory: &isDirectory), isDirectory.boolValue else {
                throw BusError.noDevice("1-Wire slave \(slave) under \(root)")
            }
            return try Self.readFile(path)
        }
    }

    private static func contents(of directory: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw BusError.busMissing(path: directory, hint: "enable 1-Wire with dtoverlay=w1-gpio in /boot/firmware/config.txt and reboot")
        }
    }

    /// Reads at most 4 KiB: w1 files are a few dozen bytes.
    private static func readFile(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            if !FileManager.default.fileExists(atPath: path) { throw BusError.noDevice(path) }
            throw BusError.permissionDenied(path: path, group: "root")
        }
        defer { try? handle.close() }
        do {
            let data = try handle.read(upToCount: 4096) ?? Data()
            return String(decoding: data, as: UTF8.self)
        } catch {
            throw BusError.io(path, errno: EIO)
        }
    }
}
