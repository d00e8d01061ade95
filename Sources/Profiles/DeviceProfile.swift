// Profiles: device-profiles/*.yaml parsing and validation.
