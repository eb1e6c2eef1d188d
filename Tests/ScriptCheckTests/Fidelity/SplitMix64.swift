import ScriptCheck

/// Helpers over ScriptCheck's seedable SplitMix64: the fidelity suite derives
/// everything it generates from one seed, so a failing run can be replayed
/// exactly with `FIDELITY_SEED`.
extension SplitMix64 {
    /// A uniformly chosen element; `items` must not be empty.
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// The seed of sub-run `index` of a run seeded with `seed`, so batches
    /// are independent yet all follow from the one printed seed.
    static func derive(_ seed: UInt64, _ index: Int) -> UInt64 {
        var g = SplitMix64(seed: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        return g.next()
    }
}

extension UInt64 {
    var hex: String { "0x" + String(self, radix: 16) }

    /// Parses "123" or "0x7b".
    init?(seedText: String) {
        let text = seedText.trimmingCharacters(in: .whitespaces)
        if text.lowercased().hasPrefix("0x") {
            self.init(text.dropFirst(2), radix: 16)
        } else {
            self.init(text)
        }
    }
}

import Foundation
