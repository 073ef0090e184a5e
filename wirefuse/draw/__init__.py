"""String diagrams of terms: layout, SVG scene and drawing."""
