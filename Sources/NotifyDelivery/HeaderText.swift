import Foundation

/// Text that goes into a header line (an ntfy `X-Title`, an e-mail `Subject`): printable ASCII
/// as it is, anything else as one RFC 2047 encoded word, `=?UTF-8?B?…?=`, which ntfy and every
/// mail client decode. A device name or rule id with an umlaut then reads right on the phone,
/// and no value can carry a CR or LF into the request to start a header of its own.
package enum HeaderText {
    package static func encoded(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return text }
        return "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?="
    }
}
