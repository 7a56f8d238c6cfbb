# Tests that span modules, fuzz targets and benchmarks. Unit tests are listed in their module's module.mk.
