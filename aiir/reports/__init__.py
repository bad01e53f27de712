"""Documents about incidents and systems: report templates, their context, clocks, assessments."""
