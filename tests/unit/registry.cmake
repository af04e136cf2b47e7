# Registry tests (included from tests/unit/CMakeLists.txt).
benchfs_add_test(test_server_list LABEL unit SOURCES test_server_list.cpp LIBS benchfs::registry)
benchfs_add_test(test_client_registry LABEL unit SOURCES test_client_registry.cpp LIBS benchfs::registry)
benchfs_add_test(test_client_registry_stress LABEL stress SOURCES test_client_registry_stress.cpp LIBS benchfs::registry)
benchfs_add_test(test_trust LABEL unit SOURCES test_trust.cpp LIBS benchfs::registry)
