// Vietnam's 34 provinces and centrally-run cities after the 2025 merger (Resolution
// 202/2025/QH15, in force 1 July 2025): the two-level system, province → ward/commune.
// `name` is what an order stores as its province. Wards have no bundled dataset: the order
// form suggests wards already used in the workspace's orders (GET /orders/address-suggestions).
export const PROVINCES = [
  // Centrally-run cities
  { name: 'Thành phố Hà Nội', city: true },
  { name: 'Thành phố Huế', city: true },
  { name: 'Thành phố Hải Phòng', city: true },
  { name: 'Thành phố Đà Nẵng', city: true },
  { name: 'Thành phố Hồ Chí Minh', city: true },
  { name: 'Thành phố Cần Thơ', city: true },
  // Provinces
  { name: 'Tỉnh An Giang' },
  { name: 'Tỉnh Bắc Ninh' },
  { name: 'Tỉnh Cà Mau' },
  { name: 'Tỉnh Cao Bằng' },
  { name: 'Tỉnh Đắk Lắk' },
  { name: 'Tỉnh Điện Biên' },
  { name: 'Tỉnh Đồng Nai' },
  { name: 'Tỉnh Đồng Tháp' },
  { name: 'Tỉnh Gia Lai' },
  { name: 'Tỉnh Hà Tĩnh' },
  { name: 'Tỉnh Hưng Yên' },
  { name: 'Tỉnh Khánh Hòa' },
  { name: 'Tỉnh Lai Châu' },
  { name: 'Tỉnh Lâm Đồng' },
  { name: 'Tỉnh Lạng Sơn' },
  { name: 'Tỉnh Lào Cai' },
  { name: 'Tỉnh Nghệ An' },
  { name: 'Tỉnh Ninh Bình' },
  { name: 'Tỉnh Phú Thọ' },
  { name: 'Tỉnh Quảng Ngãi' },
  { name: 'Tỉnh Quảng Ninh' },
  { name: 'Tỉnh Quảng Trị' },
  { name: 'Tỉnh Sơn La' },
  { name: 'Tỉnh Tây Ninh' },
  { name: 'Tỉnh Thái Nguyên' },
  { name: 'Tỉnh Thanh Hóa' },
  { name: 'Tỉnh Tuyên Quang' },
  { name: 'Tỉnh Vĩnh Long' },
];
