import HAL

/// Each circuit's procedure, from Atlas Scientific's datasheets: the points in their order and
/// the command storing each, and when a reading counts as settled.
enum CalibrationProcedure {
    /// - Parameter onePoint: EC with a single point after dry instead of low and high.
    static func steps(_ kind: EZOKind, onePoint: Bool) -> [CalibrationStep] {
        @Sendable func value(_ v: Double) -> String { String(format: "%.2f", v) }
        switch kind {
        case .ph:
            return [
                CalibrationStep(name: "mid", instruction: "Rinse the probe and put it in the pH 7.00 buffer (the mid point comes first: it clears the others).",
                                reference: 7.00, command: { "Cal,mid," + value($0) }),
                CalibrationStep(name: "low", instruction: "Rinse the probe and put it in the pH 4.00 buffer.",
                                reference: 4.00, command: { "Cal,low," + value($0) }),
                CalibrationStep(name: "high", instruction: "Rinse the probe and put it in the pH 10.00 buffer.",
                                reference: 10.00, command: { "Cal,high," + value($0) }),
            ]
        case .orp:
            return [CalibrationStep(name: "single", instruction: "Put the probe in the 225 mV ORP calibration solution.",
                                    reference: 225, command: { "Cal," + String(format: "%.0f", $0) })]
        case .ec:
            let dry = CalibrationStep(name: "dry", instruction: "Take the probe out and dry it: the circuit learns its zero in air.",
                                      reference: 0, command: { _ in "Cal,dry" })
            if onePoint {
                return [dry, CalibrationStep(name: "single", instruction: "Put the probe in the calibration solution (53 000 µS/cm for seawater).",
                                             reference: 53_000, command: { "Cal," + String(format: "%.0f", $0) })]
            }
            return [
                dry,
                CalibrationStep(name: "low", instruction: "Put the probe in the low calibration solution (12 880 µS/cm).",
                                reference: 12_880, command: { "Cal,low," + String(format: "%.0f", $0) }),
                CalibrationStep(name: "high", instruction: "Rinse, then put the probe in the high calibration solution (80 000 µS/cm).",
                                reference: 80_000, command: { "Cal,high," + String(format: "%.0f", $0) }),
            ]
        case .dissolvedOxygen:
            return [
                CalibrationStep(name: "atmosphere", instruction: "Hold the probe in air until the reading settles.",
                                reference: 9.09, command: { _ in "Cal" }),
                CalibrationStep(name: "zero", instruction: "Put the probe in the zero dissolved oxygen solution.",
                                reference: 0, command: { _ in "Cal,0" }),
            ]
        case .rtd:
            return [CalibrationStep(name: "single", instruction: "Put the probe in a liquid of known temperature (boiling water is 100 °C at sea level).",
                                    reference: 100, command: { "Cal," + value($0) })]
        }
    }

    /// Settled: five readings within the circuit's resolution-sized band.
    static func stability(_ kind: EZOKind) -> Stability {
        switch kind {
        case .ph: Stability(count: 5, epsilon: 0.02)
        case .orp: Stability(count: 5, epsilon: 2)
        case .ec: Stability(count: 5, epsilon: 50)
        case .dissolvedOxygen: Stability(count: 5, epsilon: 0.1)
        case .rtd: Stability(count: 5, epsilon: 0.1)
        }
    }

    /// ADS1115 analog probes: `count` reference liquids, each typed by the keeper.
    static func analogSteps(_ count: Int) -> [CalibrationStep] {
        (1...count).map { CalibrationStep(name: "reference \($0)", instruction: "Put the probe in reference liquid \($0) and type its true value.",
                                          reference: nil, command: nil) }
    }
}
