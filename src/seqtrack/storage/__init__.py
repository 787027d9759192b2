"""Storage: freezers to positions, placements and moves with a chain of custody, capacity, labels."""
