#pragma once
// Detectron2 yaml configs: `_BASE_` chains, Detectron2's defaults for every key not given, command-line
// style overrides (`--opts KEY VALUE ...`), and extraction of the typed ModelSpec that maskrt runs.
//
// Semantics follow detectron2/config/config.py (CfgNode.merge_from_file, _BASE_ resolution relative to
// the including file, later keys override earlier ones) and detectron2/config/defaults.py (defaults).
#include <array>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace maskrt {

// All hyperparameters the engine reads, taken from the merged config at run time.
struct ModelSpec {
  // INPUT
  std::string input_format = "BGR";      // INPUT.FORMAT: "BGR" or "RGB"
  int min_size_test = 800;               // INPUT.MIN_SIZE_TEST (0 = no resize)
  int max_size_test = 1333;              // INPUT.MAX_SIZE_TEST
  std::array<float, 3> pixel_mean{103.530f, 116.280f, 123.675f};  // MODEL.PIXEL_MEAN, in INPUT.FORMAT order
  std::array<float, 3> pixel_std{1.f, 1.f, 1.f};                  // MODEL.PIXEL_STD
  // MODEL.RESNETS
  int depth = 50;
  std::vector<std::string> resnet_out_features{"res2", "res3", "res4", "res5"};
  int num_groups = 1;
  int width_per_group = 64;
  bool stride_in_1x1 = true;
  int res5_dilation = 1;
  int res2_out_channels = 256;
  int stem_out_channels = 64;
  std::string resnet_norm = "FrozenBN";  // "FrozenBN", "BN", "SyncBN" (all evaluated with running stats)
  int freeze_at = 2;                     // MODEL.BACKBONE.FREEZE_AT (no effect at inference)
  // MODEL.FPN
  std::vector<std::string> fpn_in_features{"res2", "res3", "res4", "res5"};
  int fpn_out_channels = 256;
  std::string fpn_norm = "";
  std::string fpn_fuse_type = "sum";
  // MODEL.ANCHOR_GENERATOR
  std::vector<std::vector<float>> anchor_sizes{{32}, {64}, {128}, {256}, {512}};
  std::vector<std::vector<float>> anchor_aspect_ratios{{0.5f, 1.f, 2.f}};
  float anchor_offset = 0.f;
  // MODEL.RPN
  std::vector<std::string> rpn_in_features{"p2", "p3", "p4", "p5", "p6"};
  int rpn_pre_nms_topk_test = 1000;
  int rpn_post_nms_topk_test = 1000;
  float rpn_nms_thresh = 0.7f;
  std::array<float, 4> rpn_bbox_reg_weights{1.f, 1.f, 1.f, 1.f};
  float proposal_min_size = 0.f;         // MODEL.PROPOSAL_GENERATOR.MIN_SIZE
  int rpn_head_conv_dims = -1;           // MODEL.RPN.CONV_DIMS [-1] -> in_channels
  // MODEL.ROI_HEADS
  int num_classes = 80;
  std::vector<std::string> roi_in_features{"p2", "p3", "p4", "p5"};
  float score_thresh_test = 0.05f;
  float nms_thresh_test = 0.5f;
  int detections_per_image = 100;        // TEST.DETECTIONS_PER_IMAGE
  // MODEL.ROI_BOX_HEAD
  int box_num_conv = 0;
  int box_conv_dim = 256;
  int box_num_fc = 2;
  int box_fc_dim = 1024;
  int box_pooler_resolution = 7;
  int box_pooler_sampling_ratio = 0;
  std::string box_pooler_type = "ROIAlignV2";
  std::array<float, 4> box_bbox_reg_weights{10.f, 10.f, 5.f, 5.f};
  bool cls_agnostic_bbox_reg = false;
  float bbox_reg_scale_clamp = 4.135166556742356f;  // log(1000/16), not a config key in Detectron2
  // MODEL.MASK_ON / MODEL.ROI_MASK_HEAD
  bool mask_on = true;
  int mask_num_conv = 4;
  int mask_conv_dim = 256;
  int mask_pooler_resolution = 14;
  int mask_pooler_sampling_ratio = 0;
  std::string mask_pooler_type = "ROIAlignV2";
  bool cls_agnostic_mask = false;
  // MODEL.WEIGHTS (informational; the CLI's --weights wins)
  std::string weights;
};

struct Config {
  YAML::Node merged;    // the complete config: Detectron2 defaults overlaid by the file chain and opts
  ModelSpec spec;       // typed view of `merged`
  std::string hash;     // hex digest of the canonical dump of `merged` (effective-config hash)
  std::string path;     // the file it came from ("" for the default)
};

// Loads `path` (following _BASE_), applies `opts` (KEY VALUE pairs, values parsed as YAML like
// Detectron2's literal_eval), and validates. Throws maskrt::Error:
//   kBadConfig  — unreadable/malformed yaml (names file and line), unknown key (names the full key,
//                 e.g. "MODEL.ROI_HEADS.NUM_CLASSE"), wrong value type, odd number of opts;
//   kUnsupported — a valid Detectron2 setting maskrt does not run (names key and value), e.g.
//                 MODEL.META_ARCHITECTURE != GeneralizedRCNN, MODEL.BACKBONE.NAME not
//                 build_resnet_fpn_backbone, ROI_HEADS.NAME != StandardROIHeads, NORM "GN",
//                 DEFORM_ON_PER_STAGE, KEYPOINT_ON, cascade, PointRend, RES5_DILATION != 1.
Config load_config(const std::string& path, const std::vector<std::string>& opts = {});

// Same, starting from a yaml string (used for the embedded default model and tests).
Config load_config_from_string(const std::string& yaml_text, const std::string& origin,
                               const std::vector<std::string>& opts = {});

}  // namespace maskrt
