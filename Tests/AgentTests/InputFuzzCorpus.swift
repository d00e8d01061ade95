/// Seeds for the mutation fuzz test besides the shipped profiles: small files that reach
/// every key of the profile and of agent.yaml, so mutations land on every parser path.
enum InputFuzzCorpus {
    static let profiles: [String] = [
        """
        name: every-key
        board: fuzz
        buses:
          - { id: i2c, kind: i2c, device: /dev/i2c-1, simulated: true }
          - { id: gpio, kind: gpio, device: gpiochip0, simulated: true }
          - { id: w1, kind: w1, device: /sys/bus/w1/devices, simulated: true }
        sensors:
          - id: t
            driver: ds18b20
            bus: w1
            slave: 28-0000075a1b2c
            interval: 1s
            unit: °C
            filters:
              - offset: 0.5
              - multiply: 1.01
              - calibrate_linear: ["4.01 -> 4.00", "7.02 -> 7.00", "10.1 -> 10.0"]
              - median: { window_size: 5, send_every: 5, send_first_at: 1 }
              - sliding_window_moving_average: { window_size: 15, send_every: 15 }
              - exponential_moving_average: { alpha: 0.1, send_every: 1 }
              - delta: 0.1
              - throttle: 10s
              - clamp: { min_value: 0, max_value: 40, ignore_out_of_range: true }
              - heartbeat: 5m
            simulation:
              temperature: { sine: { mean: 25.5, amplitude: 0.5, period: 1h }, noise: 0.05, seed: 7 }
          - id: room
            driver: bme280
            bus: i2c
            address: 0x76
            simulation:
              temperature: { ramp: { start: 20, per_minute: 0.5, limit: 30 } }
              pressure: { step: { before: 1013, after: 990, at: 10m } }
              humidity: { points: [{ at: 0s, value: 50 }, { at: 1h, value: 80 }] }
          - { id: ph, driver: ezo_ph, bus: i2c, simulation: { ph: { constant: 8.1 } } }
          - { id: ec, driver: ezo_ec, bus: i2c, address: 0x64, simulation: { conductivity: { constant: 53087 } } }
          - { id: v, driver: ads1115, bus: i2c, input: 2, full_scale: 2.048, unit: pH, simulation: { voltage: { constant: 1.5 } } }
          - { id: ato, driver: float_switch, bus: gpio, line: GPIO17, active_low: true, debounce: 50ms, simulation: { level: { constant: 1 } } }
          - { id: leak, driver: leak_switch, bus: gpio, line: "27", simulation: { wet: { constant: 0 } } }
          - { id: flow, driver: flow_meter, bus: gpio, line: GPIO22, k_factor: 450, simulation: { flow: { constant: 12 } } }
        outputs:
          - { id: heater, bus: gpio, line: GPIO5, active_low: false, normal: on, fail_safe: off, description: heater relay }
        alerts:
          - { id: hot, sensor: t, when: "> 28.0", clear: 27.5, for: 1m, severity: critical, action: { output: heater, state: off } }
          - { id: band, sensor: ph, band: { low: 7.8, high: 8.5, clear_margin: 0.05 } }
          - { id: stale, sensor: room.humidity, stale: 5m }
          - { id: crash, sensor: ph, rate: { change: -0.2, per: 1h }, flapping: { changes: 5, window: 10m } }
          - { id: wet, sensor: leak, switch: wet, description: "leak under the sump" }
        """,
        "name: tiny\nsensors: []\n",
    ]

    static let configs: [String] = [
        """
        device_id: tank-7
        profile: /etc/edge-agent/profiles/reef-pi.yaml
        data_dir: /var/lib/edge-agent
        log_level: info
        retention:
          max_age: 30d
          disk_budget: 256MB
          free_space_floor: 64MiB
        sync:
          url: https://dev:secret@fleet.example:8443/
          token_file: /etc/edge-agent/token
          ca_file: /etc/edge-agent/ca.pem
          client_cert: /etc/edge-agent/cert.pem
          client_key: /etc/edge-agent/key.pem
          interval: 15s
          health_interval: 1m
          batch_rows: 2000
          batch_bytes: 1MB
          allow_insecure_http: false
        """,
        "retention: { max_age: none }\nsync: { url: 'http://127.0.0.1:8080', allow_insecure_http: yes }\n",
    ]

    /// Values that broke parsers before: overflow, signed zero, NaN, infinities, huge
    /// durations and sizes, hex, unicode, path traversal, YAML syntax.
    static let edgeValues: [String] = [
        "1e400", "-1e400", "-0", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "nan", "NaN", ".nan",
        "inf", "-inf", ".inf", "0", "-1", "0x", "0xFFFFFFFFFFFFFFFFFFFF", "1e-400", "4.9e-324", "1.7976931348623157e308",
        "9223372036854775807s", "99999999999999999999w", "1.5.5s", "0s", "0ms", "1w", "10y", "5 m", "1h30m", "-5s", ".5s",
        "9999999999999999999GiB", "1e3MB", "0xFFMB", "🐠", "\u{202E}", "\u{0}", "../../x", "/etc/passwd", "28-../../xxxxx",
        "~", "null", "[", "{", "]", "}", "&a", "*a", "!!binary", "'", "\"", "|", ">", "- -", ":", "#", "''",
        String(repeating: "x", count: 300), String(repeating: "é", count: 20),
    ]
}
