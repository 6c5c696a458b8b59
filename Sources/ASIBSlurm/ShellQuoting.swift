/// Quoting of values for POSIX shells.
public enum ShellQuoting {
    /// Returns `value` as one single-quoted shell word.
    ///
    /// Inside single quotes every byte is literal, including spaces, double quotes, `$` and
    /// newlines. A single quote ends the quoted part, so each one becomes `'\''`.
    public static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Returns `words` as a command line that a shell splits back into the same words.
    /// Words made of safe characters only stay unquoted, so the line reads naturally.
    public static func commandLine(_ words: [String]) -> String {
        words.map(quoteIfNeeded).joined(separator: " ")
    }

    private static func quoteIfNeeded(_ word: String) -> String {
        let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-")
        if !word.isEmpty, word.allSatisfy({ safe.contains($0) }) {
            return word
        }
        return quote(word)
    }
}
