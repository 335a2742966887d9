import MQTT
import Testing

@Suite struct TopicMatchingTests {
    @Test(arguments: [
        ("bootstrap/v1/devices/+/status", "bootstrap/v1/devices/omega-1/status", true),
        ("bootstrap/v1/devices/+/status", "bootstrap/v1/devices/omega-1/hello", false),
        ("bootstrap/v1/devices/+/status", "bootstrap/v1/devices/a/b/status", false),
        ("bootstrap/v1/#", "bootstrap/v1/events", true),
        ("bootstrap/v1/#", "bootstrap/v1", true),
        ("bootstrap/v1/events", "bootstrap/v1/events", true),
        ("bootstrap/v1/events", "bootstrap/v1/events/x", false),
        ("bootstrap/+", "bootstrap/v1/events", false),
        ("a/#/b", "a/x/b", false),
    ])
    func matchesLikeTheBroker(_ filter: String, _ topic: String, _ expected: Bool) {
        #expect(MQTTTopic.matches(filter: filter, topic: topic) == expected)
    }
}
