DELETE FROM audit_rollups WHERE dimension = 'method_action_class';
DELETE FROM audit_rollups_daily WHERE dimension = 'method_action_class';
