"""Everything that touches Kafka or HTTP: the Faust app, topics, agents, codecs, broker, CLI."""
