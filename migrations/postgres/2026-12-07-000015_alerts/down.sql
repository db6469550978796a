DROP TABLE alert_firings;
DROP TABLE alert_rules;
