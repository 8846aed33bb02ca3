import LiftCAM
import XCTest

/// `MethodSummary` over per-image measures, and over repeated runs (Table 1), on hand-computed values.
final class EvaluationSummaryTests: PlatformTestCase {
    func measures(_ y: Double, _ o: Double, _ d: Double, insertion: Double, deletion: Double,
                  pointing: Double?, cosine: Double?, seconds: Double) -> ImageMeasures {
        ImageMeasures(original: y, explanation: o, deletion: d, insertionAUC: insertion, deletionAUC: deletion,
                      energyPointingGame: pointing, cosineToSHAP: cosine, seconds: seconds)
    }

    func testSummaryOfMeasures() {
        let run = [
            measures(0.5, 0.25, 0.25, insertion: 0.5, deletion: 0.25, pointing: nil, cosine: 0.5, seconds: 1),
            measures(0.8, 0.9, 0.4, insertion: 0.75, deletion: 0.125, pointing: 30, cosine: 1, seconds: 3),
        ]
        let summary = MethodSummary(measures: run)
        XCTAssertEqual(summary.images, 2)
        XCTAssertEqual(summary.increaseInConfidence, 50)                   // only 0.8 < 0.9
        XCTAssertEqual(summary.averageDrop, 25)                            // (0.25/0.5 + 0) / 2
        XCTAssertEqual(summary.averageDropInDeletion, 50, accuracy: 1e-12) // (0.25/0.5 + 0.4/0.8) / 2
        XCTAssertEqual(summary.insertionAUC, 0.625)
        XCTAssertEqual(summary.deletionAUC, 0.1875)
        XCTAssertEqual(summary.energyPointingGame, 30)                     // the image without a box is left out
        XCTAssertEqual(summary.cosineToSHAP, 0.75)
        XCTAssertEqual(summary.secondsPerImage, 2)
        XCTAssertNil(MethodSummary(measures: [run[0]]).energyPointingGame)
        XCTAssertNil(MethodSummary(measures: [measures(1, 1, 1, insertion: 0, deletion: 0, pointing: 1, cosine: nil, seconds: 0)]).cosineToSHAP)

        // One run is the summary itself, bit for bit.
        XCTAssertEqual(MethodSummary(runs: [run]), summary)

        // Two runs: each summarised, then the mean.
        let second = [
            measures(0.5, 0.75, 0.5, insertion: 0.25, deletion: 0.5, pointing: nil, cosine: 0, seconds: 5),
            measures(0.8, 0.4, 0.8, insertion: 0.25, deletion: 0.375, pointing: 10, cosine: 0.5, seconds: 1),
        ]
        let mean = MethodSummary(runs: [run, second])
        XCTAssertEqual(mean.images, 2)
        XCTAssertEqual(mean.increaseInConfidence, (50 + 50) / 2)          // run 2: 0.5 < 0.75 only
        XCTAssertEqual(mean.averageDrop, (25 + 25) / 2, accuracy: 1e-12)   // run 2: (0 + 0.4/0.8) / 2
        XCTAssertEqual(mean.averageDropInDeletion, (50 + 0) / 2, accuracy: 1e-12)    // run 2: D = Y for both
        XCTAssertEqual(mean.insertionAUC, (0.625 + 0.25) / 2)
        XCTAssertEqual(mean.deletionAUC, (0.1875 + 0.4375) / 2)
        XCTAssertEqual(mean.energyPointingGame, (30 + 10) / 2)
        XCTAssertEqual(mean.cosineToSHAP, (0.75 + 0.25) / 2)
        XCTAssertEqual(mean.secondsPerImage, (2 + 3) / 2)
    }

    /// `MethodSummary(_ scores:)` is the summary of the scores' measures, AUCs from the curves.
    func testScoresAndMeasuresAgree() {
        let scores = ImageScores(original: 0.5, explanation: 0.6, deletion: 0.1, insertionCurve: [0, 0.5, 1],
                                 deletionCurve: [1, 0, 0], energyPointingGame: 40, cosineToSHAP: nil, seconds: 0.5)
        XCTAssertEqual(scores.measures, measures(0.5, 0.6, 0.1, insertion: 0.5, deletion: 0.25, pointing: 40, cosine: nil, seconds: 0.5))
        XCTAssertEqual(MethodSummary([scores]), MethodSummary(measures: [scores.measures]))
    }
}
