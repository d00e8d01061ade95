/// The batch decoder's fuzz corpus: valid batches (as the device's `BatchWriter` writes
/// them) that `WireFuzzTests` mutates, and crafted ones that once trapped or reached
/// PostgreSQL. Kept in Swift source because the test target declares no resources.
enum FuzzCorpus {
    /// Each decodes and validates as it is.
    static let valid: [String] = [
        // Readings, events and health together, the usual shape after an outage.
        #"""
        {"deviceID":"reef-1","events":{"events":[{"activeSinceMillis":1767225550000,"kind":"fired","message":"Tank at 28.3 °C (limit 28.0)","output":"heater","ruleID":"heater_stuck_on","sensorID":"tank_temp","sequence":7,"severity":"critical","silenced":true,"threshold":28,"timestampMillis":1767225610000,"value":28.3}],"range":{"first":7,"last":7}},"health":{"backlogOldestMillis":1767225600000,"backlogRows":4,"bootID":"b0","clockSynchronized":true,"cpuPercent":1.5,"databaseBytes":123456,"deadLetteredBatches":0,"drops":[{"count":3,"firstMillis":1,"lastMillis":2,"reason":"budget","sensorID":"ph"}],"firingAlerts":1,"reasons":["ph probe failing"],"rssBytes":20000000,"sensors":[{"errorCount":3,"errorsByKind":{"noDevice":3},"id":"ph","lastError":"no device at 0x63","state":"failing"}],"status":"degraded","takenAtMillis":1767225620000,"uptimeSeconds":3600.5,"version":"0.1.0"},"readings":{"clockUnsynced":[false,false,false,true],"quality":["ok","filtered","ok","suspect"],"range":{"first":101,"last":104},"sensor":[0,1,0,1],"sensors":["tank_temp","ph"],"sequence":[101,102,103,104],"timestampMillis":[1767225600000,1767225600000,1767225610000,1767225610000],"unit":[0,1,0,1],"units":["°C","pH"],"value":[25.5,8.1,25.5625,8.102]},"storeID":"6f0c2a3e-61b1-4a57-9c1b-3a52a1d3b0c7","version":1}
        """#,
        // Readings only, starting after a gap retention left.
        #"""
        {"deviceID":"reef-2","readings":{"quality":["ok","suspect"],"range":{"first":1,"last":900},"sensor":[0,0],"sensors":["flow"],"sequence":[899,900],"timestampMillis":[-1,0],"unit":[0,0],"units":[""],"value":[-0.0,1e-300]},"storeID":"s","version":1}
        """#,
        // The largest sequences a device can issue.
        #"""
        {"deviceID":"d","readings":{"quality":["ok"],"range":{"first":9223372036854775807,"last":9223372036854775807},"sensor":[0],"sensors":["t"],"sequence":[9223372036854775807],"timestampMillis":[-9223372036854775808],"unit":[0],"units":["K"],"value":[1.7976931348623157e308]},"storeID":"s","version":1}
        """#,
        // Events without optional fields.
        #"""
        {"deviceID":"d","events":{"events":[{"kind":"resolved","message":"","ruleID":"r","sensorID":"s","sequence":1,"severity":"warning","silenced":false,"timestampMillis":0},{"kind":"fired","message":"m","ruleID":"r","sensorID":"s","sequence":3,"severity":"warning","silenced":false,"timestampMillis":1}],"range":{"first":0,"last":3}},"storeID":"s","version":1}
        """#,
    ]

    /// Each is refused with exactly this reason.
    static let refused: [(json: String, reason: String)] = [
        // `previous = range.first - 1` once overflowed here and killed the server.
        (#"{"deviceID":"d","readings":{"quality":["ok"],"range":{"first":-9223372036854775808,"last":5},"sensor":[0],"sensors":["t"],"sequence":[5],"timestampMillis":[0],"unit":[0],"units":["K"],"value":[1]},"storeID":"s","version":1}"#,
         "readings.range -9223372036854775808...5 starts at a negative sequence"),
        (#"{"deviceID":"d","events":{"events":[{"kind":"fired","message":"m","ruleID":"r","sensorID":"s","sequence":-9223372036854775808,"severity":"warning","silenced":false,"timestampMillis":1}],"range":{"first":-9223372036854775808,"last":-9223372036854775808}},"storeID":"s","version":1}"#,
         "events.range -9223372036854775808...-9223372036854775808 starts at a negative sequence"),
        (#"{"deviceID":"d","readings":{"quality":["ok"],"range":{"first":0,"last":9223372036854775807},"sensor":[0],"sensors":["t"],"sequence":[1],"timestampMillis":[0],"unit":[0],"units":["K"],"value":[1]},"storeID":"s","version":1}"#,
         "readings.range 0...9223372036854775807 ends after its last row 1; a range ends at the last row it carries"),
        (#"{"deviceID":"d","readings":{"quality":[],"range":{"first":1,"last":1},"sensor":[],"sensors":[],"sequence":[],"timestampMillis":[],"unit":[],"units":[]},"storeID":"s","version":1}"#,
         "body is not a valid batch: missing key readings.value"),
        (#"{"deviceID":"d","readings":{"quality":[],"range":{"first":1,"last":1},"sensor":[],"sensors":[],"sequence":[],"timestampMillis":[],"unit":[],"units":[],"value":[]},"storeID":"s","version":1}"#,
         "readings.range 1...1 carries no rows; leave the block out instead"),
        (#"{"deviceID":"d","readings":{"quality":["ok"],"range":{"first":1,"last":1},"sensor":[2147483647],"sensors":["t"],"sequence":[1],"timestampMillis":[0],"unit":[0],"units":["K"],"value":[1]},"storeID":"s","version":1}"#,
         "readings.sensor[0] = 2147483647 is not an index into sensors"),
        (#"{"deviceID":"d","readings":{"quality":["ok"],"range":{"first":1,"last":1},"sensor":[0],"sensors":["t\u0000"],"sequence":[1],"timestampMillis":[0],"unit":[0],"units":["K"],"value":[1]},"storeID":"s","version":1}"#,
         "readings.sensors[0] contains a NUL character"),
        (#"{"deviceID":"d","storeID":"s\u0000","version":1}"#, "storeID contains a NUL character"),
        (#"{"deviceID":"d","storeID":"","version":1}"#, "storeID is empty"),
        // Event kinds and severities are Wire's enums: a word neither side knows is refused.
        (#"{"deviceID":"d","events":{"events":[{"kind":"exploded","message":"m","ruleID":"r","sensorID":"s","sequence":1,"severity":"warning","silenced":false,"timestampMillis":1}],"range":{"first":1,"last":1}},"storeID":"s","version":1}"#,
         "body is not a valid batch: Cannot initialize AlertEventKind from invalid String value exploded at events.events[0].kind"),
        // The clock-state column must match the others.
        (#"{"deviceID":"d","readings":{"clockUnsynced":[true,false],"quality":["ok"],"range":{"first":1,"last":1},"sensor":[0],"sensors":["t"],"sequence":[1],"timestampMillis":[0],"unit":[0],"units":["K"],"value":[1]},"storeID":"s","version":1}"#,
         "readings columns differ in length (sequence has 1 rows)"),
        (#"{"deviceID":"d","events":{"events":[{"kind":"actuated","message":"","output":"heat\u0000er","ruleID":"*","sensorID":"*","sequence":1,"severity":"info","silenced":false,"timestampMillis":1}],"range":{"first":1,"last":1}},"storeID":"s","version":1}"#,
         "events[0].output contains a NUL character"),
    ]
}
