// swift-tools-version:5.9
// A program that takes LiftCAM as an ordinary SwiftPM dependency, to measure what a consumer gets
// (Benchmarks/dependency_speed.sh builds it three ways; Benchmarks/DEPENDENCY.md has the numbers).
//
//   LIFTCAM_REPOSITORY=file:///…/LiftCAM.git LIFTCAM_VERSION=0.1.0  pins a tagged version, as a
//                                      consumer does: the package is checked out under .build/checkouts
//   LIFTCAM_PATH=/…/LiftCAM              a local path dependency, compiled with the root build's settings
import PackageDescription

let dependency: Package.Dependency
let packageIdentity: String  // SwiftPM names a dependency after its folder or repository
if let path = Context.environment["LIFTCAM_PATH"] {
    dependency = .package(path: path)
    packageIdentity = String(path.split(separator: "/").last ?? "LiftCAM")
} else {
    packageIdentity = "LiftCAM"
    let repository = Context.environment["LIFTCAM_REPOSITORY"] ?? "https://github.com/liftcam/LiftCAM.git"
    let version = Version(Context.environment["LIFTCAM_VERSION"] ?? "0.1.0") ?? "0.1.0"
    dependency = .package(url: repository, exact: version)
}

let package = Package(
    name: "LiftCAMConsumer",
    dependencies: [dependency],
    targets: [
        .executableTarget(name: "liftcam-consumer", dependencies: [.product(name: "LiftCAM", package: packageIdentity)]),
    ]
)
