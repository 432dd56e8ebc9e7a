"""Finance dashboards: spend, approval cycle time and backlog charts, each drilling into its claims."""
