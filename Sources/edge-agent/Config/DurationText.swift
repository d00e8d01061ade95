import EdgeCore

/// The one duration parser (EdgeCore's), visible to every file of the agent so the config,
/// the profile and the command line accept the same text.
typealias DurationText = EdgeCore.DurationText
