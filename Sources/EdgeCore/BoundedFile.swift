#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reads a config or profile file whole, but only a regular file and only up to a size: a
/// path to a FIFO would block forever and one to a huge file (or `/dev/zero`) would fill memory.
public enum BoundedFile {
    public enum Failure: Error, Sendable, Hashable {
        case unreadable
        case notARegularFile
        case tooLarge(bytes: Int64)
    }

    public static func read(path: String, maxBytes: Int) -> Result<Data, Failure> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(.unreadable) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(.notARegularFile) }
        guard info.st_size <= maxBytes else { return .failure(.tooLarge(bytes: Int64(info.st_size))) }
        guard let handle = FileHandle(forReadingAtPath: path) else { return .failure(.unreadable) }
        defer { try? handle.close() }
        // The file may have grown since stat: read one byte past the limit to tell.
        guard let data = try? handle.read(upToCount: maxBytes + 1) ?? Data() else { return .failure(.unreadable) }
        guard data.count <= maxBytes else { return .failure(.tooLarge(bytes: Int64(data.count))) }
        return .success(data)
    }
}
