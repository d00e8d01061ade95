import GRDB

extension LocalDatabase {
    /// Copies every transaction committed before the call from the WAL into the database file
    /// and syncs that file: a FULL checkpoint.
    ///
    /// With `synchronous=NORMAL` a commit is only a write into the WAL; a power cut or a lost
    /// `-wal` file takes it back, and AUTOINCREMENT then hands its sequences out again. Sync
    /// sends only rows this has made durable, so the server never holds a (store, sequence)
    /// the device can issue a second time. SQLite syncs the WAL before a checkpoint and the
    /// database file after a complete one; FULL waits (up to the busy timeout) for a reader
    /// of an older snapshot instead of stopping short of the end of the WAL.
    ///
    /// - Returns: true when the whole WAL is in the database file; false when another
    ///   connection kept it from completing (busy, or a reader that outlasted the busy
    ///   timeout). Nothing is then known to be durable beyond what an earlier call returned.
    public func checkpointIntoDatabaseFile() throws -> Bool {
        do {
            return try writer.writeWithoutTransaction { db in
                let result = try db.checkpoint(.full)
                return result.walFrameCount == result.checkpointedFrameCount
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            return false
        }
    }
}
