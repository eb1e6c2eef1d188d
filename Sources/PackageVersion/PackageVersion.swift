/// The package's release, printed by `rwlock --version` and
/// `script-check --version`: the top entry of CHANGELOG.md, which a test
/// holds it to.
public enum PackageVersion {
    public static let current = "0.1.0"
}
