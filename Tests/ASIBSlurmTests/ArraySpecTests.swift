import ASIBSlurm
import Testing

@Suite("Array specification")
struct ArraySpecTests {
    @Test("range with step")
    func rangeWithStep() throws {
        let spec = try ArraySpec.parse("0-20:5")
        #expect(spec.taskIDs == [0, 5, 10, 15, 20])
        #expect(spec.throttle == nil)
    }

    @Test("step that does not land on the end")
    func stepPastEnd() throws {
        #expect(try ArraySpec.parse("1-10:4").taskIDs == [1, 5, 9])
    }

    @Test("list of IDs")
    func list() throws {
        #expect(try ArraySpec.parse("1,5,7").taskIDs == [1, 5, 7])
    }

    @Test("duplicate IDs count once")
    func duplicates() throws {
        #expect(try ArraySpec.parse("1,1,2").taskIDs == [1, 2])
    }

    @Test("range with throttle")
    func throttle() throws {
        let spec = try ArraySpec.parse("0-9%3")
        #expect(spec.taskIDs == Array(0...9))
        #expect(spec.throttle == 3)
    }

    @Test("mixed list of ranges and IDs")
    func mixed() throws {
        #expect(try ArraySpec.parse("0-2,10,20-24:2%1").taskIDs == [0, 1, 2, 10, 20, 22, 24])
    }

    @Test("throttle 0 and a bare percent sign are errors", arguments: ["0-9%0", "0-9%", "0-9%x"])
    func invalidThrottle(text: String) {
        #expect(throws: SlurmError.self) { try ArraySpec.parse(text) }
    }

    @Test(
        "malformed specifications are errors",
        arguments: [
            "", "abc", "-1", "5-1", "0-10:0", "1,,2", "0-", "3:2", "0-4-8", "1-2:3:4", "0-9%2%3",
            " 1",
        ]
    )
    func malformed(text: String) {
        #expect(throws: SlurmError.self) { try ArraySpec.parse(text) }
    }

    @Test("IDs up to MaxArraySize - 1 are accepted")
    func withinMaxArraySize() throws {
        #expect(try ArraySpec.parse("0-1000", maxArraySize: 1001).taskIDs.count == 1001)
    }

    @Test("ID equal to MaxArraySize is rejected")
    func aboveMaxArraySize() {
        #expect(throws: SlurmError.self) { try ArraySpec.parse("0-1001", maxArraySize: 1001) }
        #expect(throws: SlurmError.self) { try ArraySpec.parse("1001", maxArraySize: 1001) }
    }
}
