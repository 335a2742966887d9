internal import CMosquitto

/// MQTT topic rules, as libmosquitto implements them.
public enum MQTTTopic {
    /// Whether `topic` matches the subscription `filter` (`+` one level, `#` the rest), by
    /// libmosquitto's `mosquitto_topic_matches_sub`. An invalid filter or topic matches nothing.
    public static func matches(filter: String, topic: String) -> Bool {
        var result = false
        let rc = mosquitto_topic_matches_sub(filter, topic, &result)
        return rc == MOSQ_ERR_SUCCESS.rawValue && result
    }
}
