# Storage tests (included from tests/unit/CMakeLists.txt).
benchfs_add_test(test_chunk_store LABEL unit SOURCES test_chunk_store.cpp LIBS benchfs::storage)
benchfs_add_test(test_metadata_store LABEL unit SOURCES test_metadata_store.cpp LIBS benchfs::storage)
